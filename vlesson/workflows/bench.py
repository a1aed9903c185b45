"""Benchmarks (the lesson's bonus): TTFT, tokens/s and peak memory across models,
batch sizes and sampling configurations, cross-checked against vLLM's own metrics.

Definitions (one batched ``llm.generate`` per case, every request ``ignore_eos`` so it
generates exactly ``max_tokens``):

- ``ttft_mean_s``: mean time to first token, from vLLM's per-request metrics
  (``RequestOutput.metrics.first_token_latency``: arrival to first token).
- ``gen_tok_s``: generated tokens / wall time of the whole call (``total_s``).
- ``prompt_tok_s``: prompt tokens / the slowest time to first token (all prompts have
  been processed once every request has its first token).
- ``peak_rss_mib`` / ``peak_gpu_mib``: highest process RAM / GPU memory while it ran.

The cross-check compares these with what vLLM itself counted (Prometheus metrics from
``llm.get_metrics()``, which needs ``disable_log_stats=False``): token counts must match
exactly, the TTFT histogram's mean within ``TOLERANCE``, and tokens/s within
``TOLERANCE`` of vLLM's tokens over its engine-core window (first queued request to last
token).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlesson.engine import engine_info, get_llm
from vlesson.files import atomic_path
from vlesson.generate import LESSON_PROMPTS
from vlesson.models import DEFAULT_MODEL, check_available
from vlesson.names import did_you_mean, split_assignments
from vlesson.sampling import PARAMS, make_sampling_params, validate
from vlesson.workflows.memory import MemoryMonitor

if TYPE_CHECKING:
    import pandas as pd
    from vllm import LLM

TOLERANCE = 0.10
"""Largest relative difference allowed between our figures and vLLM's own."""

BATCH_SIZES = (1, 8, 64)


def best_seconds(fn: Callable[[], Any], repeats: int = 3) -> float:
    """Return the fastest of ``repeats`` timed calls of ``fn`` (the least noisy figure)."""
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def config_label(config: Mapping[str, Any]) -> str:
    """Return a short label for a sampling configuration (``temperature=0.8``)."""
    return ",".join(f"{k}={v}" for k, v in config.items()) or "defaults"


def parse_config(text: str) -> dict[str, Any]:
    """Parse ``"temperature=0.8,top_p=0.9"`` into checked sampling overrides."""
    config: dict[str, Any] = {}
    for name, value in split_assignments(text, "name=value, e.g. temperature=0.8"):
        name = name.replace("-", "_")
        if name not in PARAMS:
            fix = did_you_mean(name, PARAMS, "use " + ", ".join(PARAMS))
            raise ValueError(f"unknown sampling parameter {name!r} - {fix}")
        kind = PARAMS[name].kind
        try:
            config[name] = kind(float(value)) if kind is int else kind(value)
        except ValueError:
            raise ValueError(f"{name} must be a number, got {value!r}") from None
    return validate(config)


def vllm_counters(llm: LLM) -> dict[str, float]:
    """Return vLLM's own counters and histogram sums (summed over label sets)."""
    totals: dict[str, float] = {}
    for metric in llm.get_metrics():
        if hasattr(metric, "sum"):  # a histogram: keep its sum and count
            totals[metric.name + ":sum"] = (
                totals.get(metric.name + ":sum", 0) + metric.sum
            )
            totals[metric.name + ":count"] = (
                totals.get(metric.name + ":count", 0) + metric.count
            )
        elif isinstance(getattr(metric, "value", None), (int, float)):
            totals[metric.name] = totals.get(metric.name, 0) + metric.value
    return totals


def measure(llm: LLM, prompts: Sequence[str], params: Any) -> dict[str, Any]:
    """Run one batched generate and return our figures beside vLLM's own."""
    before = vllm_counters(llm)
    with MemoryMonitor(interval=0.05) as monitor:
        start = time.perf_counter()
        outputs = llm.generate(list(prompts), params, use_tqdm=False)
        total = time.perf_counter() - start
    after = vllm_counters(llm)
    if any(o.metrics is None for o in outputs):
        raise RuntimeError(
            "no per-request metrics: build the engine with "
            "disable_log_stats=False (vl.get_llm(disable_log_stats=False))"
        )
    gen = sum(len(o.outputs[0].token_ids) for o in outputs)
    prompt = sum(len(o.prompt_token_ids or ()) for o in outputs)
    ttfts = [o.metrics.first_token_latency for o in outputs]
    window = max(o.metrics.last_token_ts for o in outputs) - min(
        o.metrics.queued_ts for o in outputs
    )

    def delta(key: str) -> float:
        return after.get(key, 0) - before.get(key, 0)

    ttft_count = delta("vllm:time_to_first_token_seconds:count")
    return {
        "batch_size": len(outputs),
        "prompt_tokens": prompt,
        "gen_tokens": gen,
        "total_s": round(total, 4),
        "ttft_mean_s": round(sum(ttfts) / len(ttfts), 4),
        "ttft_max_s": round(max(ttfts), 4),
        "gen_tok_s": round(gen / total, 1),
        "prompt_tok_s": round(prompt / max(ttfts), 1),
        "peak_rss_mib": monitor.peak_rss_mib,
        "peak_gpu_mib": monitor.peak_gpu_mib,
        "vllm_gen_tokens": int(delta("vllm:generation_tokens")),
        "vllm_prompt_tokens": int(delta("vllm:prompt_tokens")),
        "vllm_ttft_mean_s": round(
            delta("vllm:time_to_first_token_seconds:sum") / ttft_count, 4
        )
        if ttft_count
        else None,
        "vllm_gen_tok_s": round(delta("vllm:generation_tokens") / window, 1),
    }


def run_bench(
    models: Sequence[str | None] = (None,),
    batch_sizes: Sequence[int] = BATCH_SIZES,
    configs: Sequence[Mapping[str, Any]] = ({"temperature": 0.0},),
    *,
    max_tokens: int = 32,
    seed: int = 0,
    progress: bool = True,
    **engine_kwargs: Any,
) -> pd.DataFrame:
    """Benchmark every model x configuration x batch size; return one row per case.

    Each model is loaded once (the previous one is released) with log stats on, and
    warmed up with one short request before anything is timed.
    """
    import pandas as pd
    from tqdm.auto import tqdm

    if not batch_sizes or min(batch_sizes) < 1:
        raise ValueError(f"batch sizes must be >= 1, got {list(batch_sizes)}")
    for model in models:  # a missing model fails before any engine starts
        check_available(model or DEFAULT_MODEL)
    rows = []
    with tqdm(
        total=len(models) * len(configs) * len(batch_sizes),
        desc="bench",
        disable=not progress,
    ) as bar:
        for model in models:
            llm = get_llm(model, disable_log_stats=False, **engine_kwargs)
            info = engine_info(llm)
            llm.generate(
                LESSON_PROMPTS * 2,
                make_sampling_params(llm, max_tokens=8),
                use_tqdm=False,
            )  # warm-up: first-call allocations and kernel set-up untimed
            for config in configs:
                params = make_sampling_params(
                    llm,
                    {
                        **config,
                        "max_tokens": max_tokens,
                        "seed": seed,
                        "ignore_eos": True,
                    },
                )
                for size in batch_sizes:
                    prompts = [
                        LESSON_PROMPTS[i % len(LESSON_PROMPTS)] for i in range(size)
                    ]
                    rows.append(
                        {
                            "model": info["model"],
                            "dtype": info["dtype"],
                            "config": config_label(config),
                            "max_tokens": max_tokens,
                            **measure(llm, prompts, params),
                            "load_s": info["load_seconds"],
                        }
                    )
                    bar.update()
    return pd.DataFrame(rows)


def cross_check(results: pd.DataFrame, tolerance: float = TOLERANCE) -> pd.DataFrame:
    """Compare each case with vLLM's own figures; ``ok`` says if it agrees."""
    check = results[["model", "config", "batch_size"]].copy()
    check["tokens_match"] = (results["gen_tokens"] == results["vllm_gen_tokens"]) & (
        results["prompt_tokens"] == results["vllm_prompt_tokens"]
    )
    check["ttft_rel_diff"] = (
        (results["ttft_mean_s"] - results["vllm_ttft_mean_s"]).abs()
        / results["vllm_ttft_mean_s"]
    ).round(4)
    check["tok_s_rel_diff"] = (
        (results["gen_tok_s"] - results["vllm_gen_tok_s"]).abs()
        / results["vllm_gen_tok_s"]
    ).round(4)
    check["ok"] = (
        check["tokens_match"]
        & (check["ttft_rel_diff"] <= tolerance)
        & (check["tok_s_rel_diff"] <= tolerance)
    )
    return check


def plot_bench(results: pd.DataFrame, path: Path) -> Path:
    """Save a PNG: tokens/s, TTFT and peak RAM against batch size, one line per case."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(13, 3.8), layout="constrained")
    axes = fig.subplots(1, 3)
    panels = (
        ("gen_tok_s", "generated tokens/s"),
        ("ttft_mean_s", "mean TTFT (s)"),
        ("peak_rss_mib", "peak RAM (MiB)"),
    )
    for (model, config), group in results.groupby(["model", "config"], sort=False):
        group = group.sort_values("batch_size")
        for ax, (column, _) in zip(axes, panels):
            ax.plot(
                group["batch_size"],
                group[column],
                marker="o",
                label=f"{model} {config}",
            )
    for ax, (_, label) in zip(axes, panels):
        ax.set(xscale="log", xlabel="batch size", ylabel=label)
    axes[0].legend(fontsize=8)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    return path


def write_bench(results: pd.DataFrame, output: Path) -> tuple[Path, Path]:
    """Write the CSV and its plot (``<stem>.png``) beside it; return both paths."""
    output = Path(output)
    with atomic_path(output) as partial:
        results.to_csv(partial, index=False)
    return output, plot_bench(results, output.with_suffix(".png"))
