"""The smart content generator (the lesson's challenge project).

Several sampling strategies x several seeds, all in ONE batched ``generate`` call
through the model's chat template; each output is scored with automatic quality
metrics and the outputs are ranked by a stated, configurable weighted sum.
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any

from vlesson.facts import engine_facts
from vlesson.generate import generate
from vlesson.names import split_assignments
from vlesson.sampling import make_sampling_params
from vlesson.workflows.metrics import text_metrics

if TYPE_CHECKING:
    import pandas as pd
    from vllm import LLM

logger = logging.getLogger(__name__)

STRATEGIES: dict[str, dict[str, Any]] = {
    "focused": {"temperature": 0.3, "top_p": 0.8, "top_k": 20},
    "balanced": {"temperature": 0.7, "top_p": 0.9},
    "top_k_40": {"temperature": 0.9, "top_k": 40},
    "creative": {"temperature": 1.1, "top_p": 0.95},
    "wild": {"temperature": 1.5, "top_p": 1.0},
}
"""Named sampling strategies (vLLM's parameter names); unnamed parameters keep the
model's defaults."""

METRICS: dict[str, str] = {
    "coherence": "exp(mean log-probability) the model gives its own tokens, 0-1: "
    "fluent text is likely text",
    "distinct_2": "share of word pairs that are unique, 0-1: lexical diversity",
    "length": "share of the max_tokens budget used, 0-1: answers that say something",
    "repetition": "share of word 3-grams repeating an earlier one, 0-1: loops",
    "non_word_share": "share of chunks without letters, 0-1: symbol noise",
}
"""The metrics the score may weigh, each documented in one line."""

WEIGHTS: dict[str, float] = {
    "coherence": 0.4,
    "distinct_2": 0.3,
    "length": 0.1,
    "repetition": -0.2,
    "non_word_share": -0.2,
}
"""Default ranking: score = sum(weight x metric); negative weights are penalties."""

TOPIC_MESSAGE = "Write a short paragraph about: {topic}"
"""The user message sent through the chat template."""


@dataclass(frozen=True)
class SmartResult:
    """Every scored output of one run, ranked (rank 1 is the best)."""

    topic: str
    prompt: str
    """The prompt as sent to the model (chat template applied)."""
    table: pd.DataFrame = field(repr=False)
    """One row per output: strategy, parameters, metrics, score, rank and text."""
    weights: dict[str, float]
    max_tokens: int
    seed: int
    model: str = ""

    def best(self, k: int = 3) -> pd.DataFrame:
        """Return the k best outputs."""
        return self.table.head(k)

    def by_strategy(self) -> pd.DataFrame:
        """Return one row per strategy: its parameters and mean/best metrics."""
        t = self.table
        params = t.groupby("strategy", sort=False)[["temperature", "top_p", "top_k"]]
        means = t.groupby("strategy", sort=False)[[*self.weights, "num_tokens"]].mean()
        out = params.first().join(means.round(3))
        out.insert(3, "outputs", t.groupby("strategy", sort=False).size())
        out["mean_score"] = t.groupby("strategy", sort=False)["score"].mean().round(3)
        out["best_score"] = t.groupby("strategy", sort=False)["score"].max().round(3)
        return out.sort_values("mean_score", ascending=False).reset_index()

    def summary(self) -> pd.DataFrame:
        """Return mean, std, min and max of every metric over all outputs."""
        cols = ["score", *self.weights, "num_tokens", "perplexity"]
        stats = self.table[cols].agg(["mean", "std", "min", "max"]).T.round(3)
        return stats.reset_index(names="metric")

    def __repr__(self) -> str:
        return f"SmartResult({self.topic!r}, {len(self.table)} outputs)"


def parse_weights(text: str | Mapping[str, float] | None) -> dict[str, float]:
    """Return ranking weights from ``"coherence=0.5,distinct_2=0.3"`` or a mapping.

    Metrics not named get weight 0; unknown names and non-numbers raise ValueError.
    """
    if text is None:
        return dict(WEIGHTS)
    pairs = text.items() if isinstance(text, Mapping) else _split_pairs(text)
    weights = {}
    for name, value in pairs:
        if name not in METRICS:
            raise ValueError(
                f"unknown metric {name!r} in weights - use {', '.join(METRICS)}"
            )
        try:
            weights[name] = float(value)
        except (TypeError, ValueError):
            raise ValueError(
                f"weight of {name} must be a number, got {value!r}"
            ) from None
    if not any(weights.values()):
        raise ValueError("weights are all 0 - give at least one metric a weight")
    return weights


def _split_pairs(text: str) -> list[tuple[str, str]]:
    return split_assignments(text, "name=number (a weight)")


def pick_strategies(
    strategies: Sequence[str] | Mapping[str, Mapping[str, Any]] | None,
) -> dict[str, dict[str, Any]]:
    """Return named strategies: all by default, some by name, or your own mapping."""
    if strategies is None:
        return {k: dict(v) for k, v in STRATEGIES.items()}
    if isinstance(strategies, Mapping):
        return {k: dict(v) for k, v in strategies.items()}
    unknown = [s for s in strategies if s not in STRATEGIES]
    if unknown:
        raise ValueError(
            f"unknown strategy {unknown[0]!r} - use {', '.join(STRATEGIES)}"
        )
    return {k: dict(STRATEGIES[k]) for k in strategies}


def chat_prompt(llm: LLM, message: str) -> str:
    """Wrap a user message in the model's chat template (plain text if it has none)."""
    tokenizer = llm.get_tokenizer()
    if not getattr(tokenizer, "chat_template", None):
        return message
    conversation = [{"role": "user", "content": message}]
    return tokenizer.apply_chat_template(
        conversation, tokenize=False, add_generation_prompt=True
    )


def score_row(row: Mapping[str, float], weights: Mapping[str, float]) -> float:
    """Return the weighted sum of a row's metrics."""
    return round(sum(w * float(row[name]) for name, w in weights.items()), 4)


def run_smart(
    llm: LLM,
    topic: str,
    *,
    num_variations: int = 5,
    strategies: Sequence[str] | Mapping[str, Mapping[str, Any]] | None = None,
    weights: str | Mapping[str, float] | None = None,
    max_tokens: int = 128,
    seed: int = 0,
    use_tqdm: bool = True,
) -> SmartResult:
    """Generate ``num_variations`` outputs per strategy in one call; score, rank them.

    Variation i of every strategy uses seed ``seed + i``, so a run repeats exactly.
    """
    if not topic.strip():
        raise ValueError("topic is empty - say what to write about")
    if num_variations < 1:
        raise ValueError(f"num_variations must be >= 1, got {num_variations}")
    chosen, weights = pick_strategies(strategies), parse_weights(weights)
    labels, params = [], []
    for name, overrides in chosen.items():
        for i in range(num_variations):
            labels.append((name, i + 1))
            params.append(
                make_sampling_params(
                    llm, {**overrides, "max_tokens": max_tokens, "seed": seed + i}
                )
            )
    prompt = chat_prompt(llm, TOPIC_MESSAGE.format(topic=topic.strip()))
    gens = generate(llm, [prompt] * len(params), params, use_tqdm=use_tqdm)
    rows = [_row(name, i, gen, max_tokens) for (name, i), gen in zip(labels, gens)]
    return SmartResult(
        topic.strip(),
        prompt,
        _ranked(rows, weights),
        weights,
        max_tokens,
        seed,
        _model_name(llm),
    )


def rerank(result: SmartResult, weights: str | Mapping[str, float]) -> SmartResult:
    """Return the same outputs ranked by other weights (no new generation)."""
    weights = parse_weights(weights)
    rows = result.table.drop(columns=["rank", "score"]).to_dict("records")
    return dataclasses.replace(result, table=_ranked(rows, weights), weights=weights)


def _row(strategy: str, variation: int, gen: Any, max_tokens: int) -> dict[str, Any]:
    mean = gen.mean_logprob
    return {
        "strategy": strategy,
        "variation": variation,
        "temperature": gen.params["temperature"],
        "top_p": gen.params["top_p"],
        "top_k": gen.params["top_k"],
        "seed": gen.params["seed"],
        "num_tokens": gen.num_tokens,
        "finish_reason": gen.finish_reason,
        **text_metrics(gen.text),
        "mean_logprob": round(mean, 4) if mean is not None else math.nan,
        "perplexity": round(gen.perplexity, 3) if mean is not None else math.nan,
        "coherence": round(math.exp(mean), 4) if mean is not None else 0.0,
        "length": round(min(gen.num_tokens / max_tokens, 1.0), 4),
        "text": gen.text.strip(),
    }


def _ranked(rows: list[dict[str, Any]], weights: Mapping[str, float]) -> pd.DataFrame:
    import pandas as pd

    table = pd.DataFrame(rows)
    table["score"] = [score_row(r, weights) for r in rows]
    table = table.sort_values("score", ascending=False, kind="stable")
    table.insert(0, "rank", range(1, len(table) + 1))
    return table.reset_index(drop=True)


def _model_name(llm: LLM) -> str:
    return engine_facts(llm).fingerprint["model"]
