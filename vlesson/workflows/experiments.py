"""Vary one sampling parameter over prompts in one batched call, as a table.

Used by the temperature (2.3) and max-tokens (2.4) exercises: one row per
completion with the model's own confidence and the text metrics.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from typing import TYPE_CHECKING, Any

from vlesson.generate import generate
from vlesson.sampling import make_sampling_params
from vlesson.workflows.metrics import text_metrics

if TYPE_CHECKING:
    import pandas as pd
    from vllm import LLM


def vary(
    llm: LLM,
    prompts: str | Sequence[str],
    param: str,
    values: Iterable[Any],
    *,
    fixed: Mapping[str, Any] | None = None,
    use_tqdm: bool = True,
) -> pd.DataFrame:
    """Generate every prompt at every value of ``param`` in ONE batched call.

    Args:
        param: a sampling parameter name, e.g. ``"temperature"``.
        fixed: the other overrides, e.g. ``{"max_tokens": 48, "seed": 0}``.

    Returns one row per completion: the value, prompt, text, num_tokens,
    finish_reason, mean_logprob, perplexity and ``metrics.text_metrics``.
    """
    import pandas as pd

    prompts = [prompts] if isinstance(prompts, str) else list(prompts)
    values = list(values)
    params = [
        make_sampling_params(llm, {**(fixed or {}), param: value})
        for value in values
        for _ in prompts
    ]
    gens = generate(llm, prompts * len(values), params, use_tqdm=use_tqdm)
    rows = [
        {
            param: value,
            "prompt": gen.prompt,
            "text": gen.text,
            "num_tokens": gen.num_tokens,
            "finish_reason": gen.finish_reason,
            "mean_logprob": gen.mean_logprob,
            "perplexity": gen.perplexity,
            **text_metrics(gen.text),
        }
        for value, gen in zip((v for v in values for _ in prompts), gens)
    ]
    return pd.DataFrame(rows)
