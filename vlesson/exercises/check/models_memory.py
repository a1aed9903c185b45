"""Checks of notebook 03: models (2.1), a focused config (2.5), the KV cache's size
(2.6) and where vLLM finds a checkpoint's quantization (2.12)."""

from __future__ import annotations

import json
import tempfile
from collections.abc import Callable, Mapping
from pathlib import Path
from types import SimpleNamespace
from typing import Any

from vlesson import status
from vlesson.exercises.grading import NotAttempted, checkpoint
from vlesson.facts import engine_facts
from vlesson.models import OFFLINE_MODELS
from vlesson.remote import local_only

__all__ = [
    "focused_params",
    "kv_cache_tokens",
    "memory_fractions",
    "model_predictions",
    "model_quality",
    "quantization_of",
    "quantization_table",
]

# -- 2.5 a focused configuration of exactly 150 tokens -------------------------------

EARLY_STOP_PROMPT = "Q: What colour is the sky on a clear day? Answer in one word.\nA:"
"""A question the model answers in a few tokens, then ends: only a config that forbids
stopping reaches 150 tokens here."""
SEEDS = (0, 1, 2)
STATUS_DELAY_S = 2.0
"""The check's generation (3 x 150 tokens, 10-40 s on a 2-core CPU) shows a status line
with the time once it runs this long."""


@checkpoint("2.5")
def focused_params(params: Any, llm: Any) -> tuple[str, Any]:
    """Check a ``SamplingParams`` for 2.5: focused, top-k, exactly 150 tokens."""
    import pandas as pd
    from vllm import SamplingParams

    assert isinstance(params, SamplingParams), (
        f"params is a {type(params).__name__}: build vLLM's SamplingParams(...)"
    )
    t, p, k = params.temperature, params.top_p, params.top_k
    assert 0 < t <= 0.6, (
        f"temperature is {t}: focused means low, about 0.3-0.5 (0 is greedy, and then"
        " top-k would not matter)"
    )
    assert p <= 0.9, f"top_p is {p}: focused means a narrow nucleus, well below 1"
    assert k == 20, f"top_k is {k}: top-k sampling with k = 20, as the sheet says"
    assert params.max_tokens == 150, f"max_tokens is {params.max_tokens}, not 150"
    exact = params.min_tokens == 150 or params.ignore_eos
    assert exact, (
        f"min_tokens is {params.min_tokens}: max_tokens is only a ceiling - what "
        "could end an output before it?"
    )
    seeded = []
    for seed in SEEDS:
        one = params.clone()
        one.seed = seed
        seeded.append(one)
    what = f"{len(SEEDS)} seeds x {params.max_tokens} tokens"
    with status.elapsed(f"checking: generating {what}", f"checked: generated {what} in",
                        delay=STATUS_DELAY_S):
        outputs = llm.generate([EARLY_STOP_PROMPT] * len(SEEDS), seeded, use_tqdm=False)
    runs = [
        {
            "seed": seed,
            "num_tokens": len(o.outputs[0].token_ids),
            "finish": o.outputs[0].finish_reason,
        }
        for seed, o in zip(SEEDS, outputs, strict=True)
    ]
    short = [r for r in runs if r["num_tokens"] != 150]
    assert not short, f"with seed {short[0]['seed']} it stopped at {short[0]}"
    return (
        (
            "150 tokens with every seed, even on a question the model answers in one word:"
            " the settings guarantee it, not the luck of one sample"
        ),
        pd.DataFrame(runs),
    )


# -- 2.6 how many tokens the KV cache holds ------------------------------------------

GEMMA_LIKE = SimpleNamespace(
    num_hidden_layers=18,
    num_attention_heads=4,
    num_key_value_heads=1,
    head_dim=256,
    hidden_size=640,
)
"""A config whose head_dim is not hidden_size / heads (gemma-3-270m's shape)."""


def kv_tokens(
    config: Any,
    dtype_bytes: int,
    cache_bytes: int,
    block_size: int,
    *,
    kv: int = 2,
    heads: str = "num_key_value_heads",
    layers: bool = True,
    head_dim: str = "config",
    blocks: bool = True,
) -> int:
    """Tokens a KV cache of ``cache_bytes`` holds (vLLM's sum); the keywords make the
    usual mistakes, so a wrong answer can be named."""
    size = getattr(config, "head_dim", None) if head_dim == "config" else None
    size = size or config.hidden_size // config.num_attention_heads
    per_token = kv * getattr(config, heads) * size * dtype_bytes
    per_token *= config.num_hidden_layers if layers else 1
    if not blocks:
        return cache_bytes // per_token
    return cache_bytes // (per_token * block_size) * block_size


MISTAKES = {
    "kv": (
        {"kv": 1},
        "each token keeps a key AND a value vector in every layer",
    ),
    "heads": (
        {"heads": "num_attention_heads"},
        (
            "this model shares each key/value head among several query heads "
            "(grouped-query attention): count the KV heads"
        ),
    ),
    "layers": ({"layers": False}, "every layer keeps its own keys and values"),
    "head_dim": (
        {"head_dim": "derived"},
        (
            "a head's size is in the config (head_dim); it is not always hidden_size / "
            "num_attention_heads"
        ),
    ),
    "blocks": (
        {"blocks": False},
        "vLLM hands out whole blocks of block_size tokens: round down to whole blocks",
    ),
}


@checkpoint("2.6")
def kv_cache_tokens(fn: Callable[..., Any], llm: Any) -> str:
    """Check ``fn(config, dtype_bytes, cache_bytes, block_size) -> tokens`` against
    the engine's own KV-cache size and a second, differently shaped model."""
    facts = engine_facts(llm)
    cases = [(GEMMA_LIKE, 2, 1 << 28, 16, None)]
    if facts.kv_cache_bytes and facts.kv_cache_tokens and facts.model_path:
        from transformers import AutoConfig

        config = AutoConfig.from_pretrained(facts.model_path)
        dtype_bytes = 4 if facts.dtype == "float32" else 2
        cases.insert(
            0,
            (
                config,
                dtype_bytes,
                facts.kv_cache_bytes,
                facts.block_size,
                facts.kv_cache_tokens,
            ),
        )
    for config, dtype_bytes, cache_bytes, block_size, engine_says in cases:
        args = (config, dtype_bytes, cache_bytes, block_size)
        want = engine_says or kv_tokens(*args)
        got = fn(*args)
        if got == want:
            continue
        named = [
            hint for kw, hint in MISTAKES.values() if got == kv_tokens(*args, **kw)
        ]
        who = "the engine says" if engine_says else "vLLM's sum gives"
        assert False, (
            f"for a {config.num_hidden_layers}-layer model with {cache_bytes:,} bytes "
            f"you get {got!r} tokens, {who} {want:,}: "
            + (named[0] if named else "what does ONE token store, in each layer?")
        )
    return (
        "your sum matches the engine's own KV-cache size: bytes per token decide how "
        "many tokens, and so how many requests, fit at once"
    )


FRACTION_KEYS = (
    "more_requests",
    "max_concurrency",
    "single_request_faster",
    "refused_first",
)


@checkpoint("2.6")
def memory_fractions(answers: Mapping[str, Any], fractions: Any) -> str:
    """Check what the learner read off ``vl.memory.compare_fractions``'s table (None on
    a class server, which cannot start engines)."""
    if fractions is None:
        raise NotAttempted(local_only("Comparing memory fractions (exercise 2.6)"))
    assert isinstance(answers, Mapping) and set(FRACTION_KEYS) <= set(answers), (
        f"answers is a dict with the keys {', '.join(FRACTION_KEYS)}"
    )
    rows = fractions.set_index("gpu_memory_utilization")
    asked = [float(f) for f in rows.index]
    more, most = _fraction(answers["more_requests"], asked), max(asked)
    assert more is not None, (
        f"more_requests is {answers['more_requests']!r}: name one of the fractions of "
        f"your table, {asked}"
    )
    concurrency = {f: float(rows.loc[f, "max_concurrency"]) for f in asked}
    assert more == max(asked, key=concurrency.get), (
        f"with {more} your table says max_concurrency {concurrency[more]}, with the "
        f"other fraction {max(concurrency.values())}: which lets more requests in?"
    )
    said, want = answers["max_concurrency"], concurrency[more]
    tokens = int(rows.loc[more, "kv_cache_tokens"])
    assert said != tokens, (
        f"{tokens:,} is the KV cache in tokens; max_concurrency divides it by "
        f"max_model_len ({int(rows.loc[more, 'max_model_len']):,})"
    )
    number = isinstance(said, int | float) and not isinstance(said, bool)
    assert number and abs(said - want) <= 0.01 * max(want, 1), (
        f"max_concurrency is {said!r}: read the row of {more} in your table"
    )
    assert answers["single_request_faster"] is False, (
        "a request gets one token per step whatever the cache size: more KV blocks let "
        "more requests share a step (throughput), they do not make one faster"
    )
    assert _fraction(answers["refused_first"], asked) == most, (
        "the fraction is of the device's total memory, and the engine must get it at "
        "start-up: which asks for more, and so fails first (or starves the machine) "
        "when other programs hold memory?"
    )
    return (
        f"{most} gives more KV cache, so more requests at once (max_concurrency "
        f"{want}), not a faster request; and the larger the fraction, the likelier the "
        "engine refuses to start beside other programs: stability costs capacity"
    )


def _fraction(value: Any, asked: list[float]) -> float | None:
    """The fraction of the table the learner named, or None."""
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    return next((f for f in asked if abs(f - value) < 1e-9), None)


# -- 2.1 predict, then measure ---------------------------------------------------------

PREDICTION_KEYS = ("loads_slower", "generates_faster")


@checkpoint("2.1")
def model_predictions(predictions: Mapping[str, str], table: Any) -> str:
    """Check the learner's predictions against ``vl.compare.compare_models()``'s table;
    ``table`` is None on a class server, which cannot compare models: the predictions
    are then judged by the two models' sizes."""
    assert isinstance(predictions, Mapping) and set(PREDICTION_KEYS) <= set(
        predictions
    ), f"predictions is a dict with the keys {', '.join(PREDICTION_KEYS)}"
    if table is None:
        sizes = {name: model.parameters_m for name, model in OFFLINE_MODELS.items()}
        names = list(sizes)
        slower, faster = max(sizes, key=sizes.get), min(sizes, key=sizes.get)
        why_slower = (
            f"{slower} has {sizes[slower]}M weights, {faster} {sizes[faster]}M: which "
            "one has more to read from disk and place in memory?"
        )
        why_faster = (
            f"{faster} has {sizes[faster]}M weights, {slower} {sizes[slower]}M: each "
            "step multiplies every weight once - which model has fewer?"
        )
        right = (
            "your predictions match the models' sizes: more weights, slower to load "
            "and to generate. Judged by size, not measured: "
            + local_only("Comparing two models (exercise 2.1)")
        )
    else:
        per_model = table.groupby("model", sort=False)[["load_s", "gen_tok_s"]].mean()
        names = list(per_model.index)
        slower = per_model["load_s"].idxmax()
        faster = per_model["gen_tok_s"].idxmax()
        why_slower = (
            f"the measurement says {slower} loads slower: compare the two models' "
            "weights and vocabularies (vl.models.describe)"
        )
        why_faster = (
            f"the measurement says {faster} generates more tokens per second: each "
            "step multiplies every weight once - which model has fewer?"
        )
        right = (
            "your predictions match the measurement: size decides load time and speed"
        )
    for key in PREDICTION_KEYS:
        assert predictions[key] in names, (
            f"predictions[{key!r}] is {predictions[key]!r}: name one of {names}"
        )
    assert predictions["loads_slower"] == slower, why_slower
    assert predictions["generates_faster"] == faster, why_faster
    return right


@checkpoint("2.1")
def model_quality(better: Any, table: Any) -> str:
    """Check the model the learner names as better by bits per byte, from
    ``vl.compare.compare_models()``'s table (None on a class server)."""
    if table is None:
        raise NotAttempted(local_only("Comparing two models (exercise 2.1)"))
    per_model = table.groupby("model", sort=False)[["bits_per_byte", "perplexity"]]
    means = per_model.mean()
    names = list(means.index)
    assert better in names, f"better_model is {better!r}: name one of {names}"
    bpb = means["bits_per_byte"]
    best = bpb.idxmin()
    if better != best and better == means["perplexity"].idxmin():
        raise AssertionError(
            f"{better} has the lower perplexity, but perplexity is per token of each "
            "model's own vocabulary (49k against 262k tokens): a larger vocabulary "
            "has more tokens to choose from at every step. Compare bits_per_byte, "
            "measured on the same bytes of text"
        )
    assert better == best, (
        f"bits_per_byte: {better} {bpb[better]:.3f}, {best} {bpb[best]:.3f} - fewer "
        "bits per byte means the model predicts the text better"
    )
    return (
        f"{best} needs {bpb[best]:.3f} bits per byte of the same text, "
        f"{bpb.max():.3f} for the other: it predicts ordinary text better. Whether "
        "its answers are better for a task is another question: read them"
    )


# -- 2.12 where vLLM finds the quantization -------------------------------------------

QUANT_CASES: tuple[tuple[str, dict[str, Any] | None, str | None], ...] = (
    ("full precision", None, None),
    ("gptq", {"quant_method": "gptq", "bits": 4, "group_size": 64}, "gptq"),
    ("awq", {"quant_method": "awq", "bits": 4, "zero_point": True}, "awq"),
    ("older gptq", {"quant_method": "gptq", "bits": 4, "group_size": 128}, "gptq"),
)
"""(name, quantization config, method); "older" keeps it in quantize_config.json."""
OLDER = "quantize_config.json"


@checkpoint("2.12")
def quantization_of(fn: Callable[[Path], Any]) -> str:
    """Check ``fn(model_dir) -> method name or None`` on three checkpoint folders."""
    with tempfile.TemporaryDirectory(prefix="vlesson-check-") as tmp:
        for name, quant, want in QUANT_CASES:
            folder = Path(tmp, name)
            folder.mkdir()
            config: dict[str, Any] = {
                "architectures": ["LlamaForCausalLM"],
                "torch_dtype": "bfloat16",
            }
            if name.startswith("older"):  # AutoGPTQ's file beside config.json
                (folder / OLDER).write_text(json.dumps(quant), encoding="utf-8")
            elif quant is not None:
                config["quantization_config"] = quant
            (folder / "config.json").write_text(json.dumps(config), encoding="utf-8")
            got = fn(folder)
            assert not isinstance(got, Mapping), (
                f"for the {name} checkpoint you returned a dict: return the method's "
                "name, a str"
            )
            assert got == want, (
                f"for the {name} checkpoint you returned {got!r}, vLLM reads {want!r}"
                + (
                    ": a checkpoint without a quantization config is full precision"
                    if want is None
                    else f": its config.json has none; older checkpoints keep it in "
                    f"{OLDER} beside it"
                    if name.startswith("older")
                    else ": look in the folder's config.json, where vLLM looks"
                )
            )
    return (
        "vLLM takes the method from the checkpoint's own config: --quantization awq "
        "on a full-precision model has nothing to read"
    )


QUANT_KEYS = ("smallest", "fastest", "best_quantized_quality")


@checkpoint("2.12")
def quantization_table(answers: Mapping[str, Any], table: Any) -> str:
    """Check what the learner read off ``compare_quantization``'s table (None on a
    class server, which cannot start engines)."""
    if table is None:
        raise NotAttempted(local_only("Comparing quantized checkpoints"))
    assert isinstance(answers, Mapping) and set(QUANT_KEYS) <= set(answers), (
        f"answers is a dict with the keys {', '.join(QUANT_KEYS)}"
    )
    rows = table.set_index("variant")
    names = list(rows.index)
    for key in QUANT_KEYS:
        none = key == "best_quantized_quality" and answers[key] is None
        assert answers[key] in names or none, (
            f"answers[{key!r}] is {answers[key]!r}: name a variant of your table, {names}"
        )
    size = rows["checkpoint_mib"]
    said, full = answers["smallest"], names[0]
    assert said == full or size[said] != size[full], (
        f"{said} has the same checkpoint_mib as {full}: it reads the full-precision "
        "files and converts them while loading (online)"
    )
    _same(answers["smallest"], size.idxmin(), size, "checkpoint_mib", "smaller")
    ran = rows[rows["gen_tok_s"].notna()]
    not_run = {n: rows.loc[n, "example"] for n in names if n not in ran.index}
    for key in ("fastest", "best_quantized_quality"):
        assert answers[key] not in not_run, (
            f"{answers[key]} did not run here: {not_run.get(answers[key])}"
        )
    speed = ran["gen_tok_s"]
    _same(answers["fastest"], speed.idxmax(), speed, "gen_tok_s", "faster")
    quantized = ran[ran["quantization"] != "none"]["perplexity"]
    best = quantized.idxmin() if len(quantized) else None
    said = answers["best_quantized_quality"]
    assert said != full, (
        f"{full} is the reference the others are measured against: which "
        "*quantized* variant comes closest to it?"
    )
    assert said == best, (
        "no quantized variant ran here: answer None"
        if best is None
        else f"lower perplexity is better: {_pair(said, best, quantized)}"
    )
    return (
        f"{size.idxmin()} is smallest, {speed.idxmax()} fastest here, {best} the best "
        "quantized quality: each method trades quality for memory, and speed depends "
        "on the hardware's kernels, so measure on the machine that will serve"
    )


def _same(said: Any, want: str, column: Any, name: str, better: str) -> None:
    assert said == want, (
        f"your table's {name}: {_pair(said, want, column)} - which is {better}?"
    )


def _pair(said: Any, want: str, column: Any) -> str:
    mine = f"{said} has {column[said]}, " if said in column.index else ""
    return f"{mine}{want} has {column[want]}"
