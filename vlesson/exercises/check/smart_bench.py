"""Checks of notebook 06: the challenge's variations and ranking weights, and the
benchmark bonus's figures."""

from __future__ import annotations

import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vlesson.engine import is_remote
from vlesson.exercises.grading import checkpoint
from vlesson.exercises.recording import Recorder

__all__ = ["bench_figures", "rerank_weights", "variations"]

# -- challenge: every variation of every strategy in one call --------------------------

STRATEGIES = {
    "focused": {"temperature": 0.3, "top_p": 0.8, "top_k": 20},
    "wild": {"temperature": 1.5, "top_p": 1.0},
}
NUM_VARIATIONS, SEED, MAX_TOKENS = 3, 40, 8


@checkpoint("challenge")
def variations(fn: Callable[..., Any], llm: Any) -> str:
    """Check ``fn(llm, prompt, strategies, num_variations, *, max_tokens, seed)``."""
    rec = Recorder(llm)
    rows = fn(
        rec,
        "Write one sentence about the sea.",
        {k: dict(v) for k, v in STRATEGIES.items()},
        NUM_VARIATIONS,
        max_tokens=MAX_TOKENS,
        seed=SEED,
    )
    want = len(STRATEGIES) * NUM_VARIATIONS
    assert rec.calls, "your function never called llm.generate"
    assert len(rec.calls) == 1, (
        f"llm.generate was called {len(rec.calls)} times for {want} outputs: every "
        "variation of every strategy fits in one call"
    )
    call = rec.calls[0]
    params = call.params_list()
    assert isinstance(call.sampling_params, Sequence) and len(params) == want, (
        f"send {want} SamplingParams ({len(STRATEGIES)} strategies x "
        f"{NUM_VARIATIONS} variations), one per request"
    )
    _check_strategy_params(params)
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict("records")
    assert isinstance(rows, Sequence) and len(rows) == want, (
        f"return one row per output ({want}): strategy, seed and text"
    )
    texts = {
        (p.temperature, p.seed): o.outputs[0].text
        for p, o in zip(params, call.outputs, strict=False)
    }
    for row in rows:
        assert isinstance(row, Mapping) and {"strategy", "seed", "text"} <= set(row), (
            f"a row is {row!r}: give each row strategy, seed and text"
        )
        t = STRATEGIES.get(row["strategy"], {}).get("temperature")
        assert texts.get((t, row["seed"])) == row["text"], (
            f"the row of {row['strategy']!r} with seed {row['seed']} holds another "
            "request's text: outputs come back in the order of the params list"
        )
    return (
        f"{want} outputs in one call, seeds {SEED}..{SEED + NUM_VARIATIONS - 1} for "
        "every strategy: a strategy's variations differ only by seed, and a rerun "
        "repeats exactly"
    )


def _check_strategy_params(params: list[Any]) -> None:
    for name, settings in STRATEGIES.items():
        mine = [p for p in params if p.temperature == settings["temperature"]]
        assert len(mine) == NUM_VARIATIONS, (
            f"{len(mine)} requests with {name}'s temperature "
            f"{settings['temperature']}, want {NUM_VARIATIONS}: apply each strategy's "
            "settings to its own requests"
        )
        for key, value in settings.items():
            got = {getattr(p, key) for p in mine}
            assert got == {value}, (
                f"strategy {name} asks {key}={value}, its requests have {sorted(got)}"
            )
        seeds = sorted(p.seed for p in mine if p.seed is not None)
        want = list(range(SEED, SEED + NUM_VARIATIONS))
        assert seeds == want, (
            f"{name}'s seeds are {seeds or 'not set'}; variation i should use seed + i"
            f" ({want}), so every strategy gets the same draws"
        )
        lengths = {p.max_tokens for p in mine}
        assert lengths == {MAX_TOKENS}, (
            f"max_tokens is {sorted(lengths)}, the argument was {MAX_TOKENS}"
        )


# -- challenge: reranking weights -------------------------------------------------------

PENALTIES = ("repetition", "non_word_share")
REWARDS = ("coherence", "distinct_2", "length")
NOISE = 0.2
"""A top output with more than this share of letter-less chunks is symbol noise."""


@checkpoint("challenge")
def rerank_weights(weights: Mapping[str, float], result: Any) -> tuple[str, Any]:
    """Check weights that rank diversity above coherence without crowning noise.

    ``result`` is ``vl.smart.run_smart(...)``'s SmartResult (its ``table`` has one
    column per metric).
    """
    assert isinstance(weights, Mapping), (
        f"weights is a {type(weights).__name__}: a dict of metric -> number"
    )
    known = (*REWARDS, *PENALTIES)
    unknown = [k for k in weights if k not in known]
    assert not unknown, f"{unknown[0]!r} is not a metric: use {', '.join(known)}"
    for name in PENALTIES:
        assert weights.get(name, 0) <= 0, (
            f"{name} has weight {weights[name]}: a positive weight rewards it"
        )
    d, c = weights.get("distinct_2", 0), weights.get("coherence", 0)
    assert d > c >= 0, (
        f"distinct_2 weighs {d} and coherence {c}: the goal ranks diversity above "
        "coherence, and still rewards coherence"
    )
    table = result.table.copy()
    table["score"] = [
        sum(w * float(row[name]) for name, w in weights.items())
        for row in table.to_dict("records")
    ]
    table = table.sort_values("score", ascending=False, kind="stable")
    top = table.iloc[0]
    assert top["non_word_share"] <= NOISE, (
        f"your top output ({top['strategy']}, non_word_share "
        f"{top['non_word_share']:.2f}) is mostly symbols: a penalty is too weak"
    )
    shown = table.head(5)[["strategy", "score", "coherence", "distinct_2", "text"]]
    return (
        (
            f"the top output comes from {top['strategy']}: diverse, and not noise - the "
            "weights state what 'best' means, the model did not change"
        ),
        shown.reset_index(drop=True),
    )


# -- bonus: benchmark figures -----------------------------------------------------------

BENCH_PROMPTS = ("The capital of France is", "Once upon a time", "The future of AI is")


@checkpoint("bonus")
def bench_figures(fn: Callable[[list[Any], float], Mapping[str, Any]], llm: Any) -> str:
    """Check ``fn(outputs, seconds) -> {"gen_tok_s", "ttft_mean_s", "total_s"}``."""
    from vllm import SamplingParams

    params = SamplingParams(temperature=0, max_tokens=12, ignore_eos=True)
    start = time.perf_counter()
    outputs = llm.generate(list(BENCH_PROMPTS) * 2, params, use_tqdm=False)
    seconds = time.perf_counter() - start
    sampled = is_remote(llm)
    if sampled:  # a server's answers carry no per-request metrics
        _sample_latencies(outputs)
    assert all(o.metrics is not None for o in outputs), (
        "this engine keeps no per-request metrics: start it with "
        "vl.get_llm(disable_log_stats=False)"
    )
    got = fn(list(outputs), seconds)
    for key in ("gen_tok_s", "ttft_mean_s", "total_s"):
        assert isinstance(got, Mapping) and key in got, (
            f"return a dict with gen_tok_s, ttft_mean_s and total_s (missing {key})"
        )
    tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
    prompt = sum(len(o.prompt_token_ids or ()) for o in outputs)
    ttfts = [o.metrics.first_token_latency for o in outputs]
    want = {
        "gen_tok_s": tokens / seconds,
        "ttft_mean_s": sum(ttfts) / len(ttfts),
        "total_s": seconds,
    }
    _near(got["total_s"], want["total_s"], "total_s should be the seconds you got")
    rate = float(got["gen_tok_s"])
    if not _close(rate, want["gen_tok_s"]):
        n = len(outputs)
        hint = (
            "that is the mean of each request's rate: a batch's throughput is all "
            "generated tokens over the batch's time"
            if _close(rate * n, want["gen_tok_s"])
            else "prompt tokens are read, not generated: count the generated ones"
            if _close(rate, (tokens + prompt) / seconds)
            else "count tokens (token_ids), not characters or words"
        )
        raise AssertionError(
            f"gen_tok_s is {rate:.1f}, want {want['gen_tok_s']:.1f}: {hint}"
        )
    ttft = float(got["ttft_mean_s"])
    if not _close(ttft, want["ttft_mean_s"]):
        hint = (
            "that is the slowest request's; take the mean"
            if _close(ttft, max(ttfts))
            else "that is time per token; the first token's latency is in each "
            "output's metrics (vLLM measures it from arrival)"
            if _close(ttft, seconds / max(tokens / len(outputs), 1))
            else "read each RequestOutput's metrics: vLLM records when the first "
            "token came"
        )
        raise AssertionError(
            f"ttft_mean_s is {ttft:.4f}, want {want['ttft_mean_s']:.4f}: {hint}"
        )
    if sampled:
        return (
            f"{want['gen_tok_s']:.0f} generated tokens/s from the server; your "
            "first-token latency is right on sample figures only: a server keeps each "
            "request's metrics to itself (its /metrics page has them in sum)"
        )
    return (
        f"{want['gen_tok_s']:.0f} generated tokens/s, first token after "
        f"{1000 * want['ttft_mean_s']:.0f} ms on average: throughput and latency "
        "answer different questions"
    )


SAMPLE_LATENCIES = (0.031, 0.047, 0.052, 0.068, 0.075, 0.094)
"""Made-up first-token latencies (seconds), different per request so that the mean and
the slowest differ."""


def _sample_latencies(outputs: Sequence[Any]) -> None:
    from vllm.v1.metrics.stats import RequestStateStats

    for output, latency in zip(outputs, SAMPLE_LATENCIES, strict=True):
        output.metrics = RequestStateStats(first_token_latency=latency)


def _close(a: float, b: float) -> bool:
    return math.isclose(a, b, rel_tol=0.02, abs_tol=1e-6)


def _near(a: Any, b: float, message: str) -> None:
    assert isinstance(a, (int, float)) and _close(float(a), b), (
        f"{message} ({b:.3f}), got {a!r}"
    )
