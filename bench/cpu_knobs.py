"""Which vLLM engine settings serve a learner best on this CPU: one knob at a time.

Each row starts vlesson's engine in its own child process with vlesson's CPU defaults
in eager mode (``VLESSON_COMPILE=0``: only the compiled rows compile) and exactly one
change (an engine argument or a vLLM environment variable), one after the other, in
``--rounds`` rounds (a shared 2-core machine is noisy: the same settings
varied by up to 1.4x between runs), and prints the median of each figure. It measures
what a learner feels: ready time (import + load), 64 prompts x 64 tokens, one stream of
128 tokens, time to first token, and a slider step (32 new tokens after a long prompt,
the same prompt again and again, as the panel does).
The figures beside the defaults in ``vlesson/engine.py`` come from this table.

    .venv/bin/python bench/cpu_knobs.py [--rounds 3] [--only defaults ...] [--skip-compile]
"""

from __future__ import annotations

import argparse
import json
import os
import shutil
import tempfile
import time
from typing import NamedTuple

from workloads import (
    EAGER_UNLESS_ASKED,
    VLLM_WARM_UP,
    compile_cache_env,
    keep_vllms_warm_up_if_asked,
    medians,
    print_result,
    run_child,
    run_rounds,
    vllm_figures,
)

from vlesson.workflows.bench import best_seconds

LONG_PROMPT = " ".join(["The Eiffel Tower is a wrought-iron lattice tower in Paris."] * 40)
"""About 560 tokens: the prompt a slider panel sends again and again."""

class Variant(NamedTuple):
    """One row: vLLM environment and engine arguments on top of vlesson's CPU defaults."""

    env: dict[str, str]
    engine: dict[str, object]
    caches: str | None = None
    """Compile caches of its own, under this name, shared by a pair of rows."""
    first_start: bool = False
    """Empty those caches before starting (a first start; its pair then finds them)."""


COMPILED = {"enforce_eager": False}
AOT, INDUCTOR = {"VLLM_USE_AOT_COMPILE": "1"}, {"VLLM_USE_AOT_COMPILE": "0"}
VARIANTS: dict[str, Variant] = {
    "defaults": Variant({}, {}),
    "dtype=float32": Variant({}, {"dtype": "float32"}),
    "engine core in a child process": Variant({"VLLM_ENABLE_V1_MULTIPROCESSING": "1"}, {}),
    "compiled graphs (enforce_eager=False)": Variant({}, COMPILED),
    # The same, each pair in compile caches of its own: a first start, then a second one
    # that finds the first's cache. vLLM's AOT artifacts (its default with torch >= 2.10;
    # they load on a CPU with compat.load_aot_cache_on_cpu) skip Dynamo's tracing; torch
    # inductor's own cache alone (VLLM_USE_AOT_COMPILE=0) traces again at every start.
    "compiled, AOT cache: first start": Variant(AOT, COMPILED, "aot", first_start=True),
    "compiled, AOT cache: next start": Variant(AOT, COMPILED, "aot"),
    # A next start warms up on 16 tokens (compat.briefly_warmed_up); here with vLLM's
    # own warm-up instead, a forward pass over 8,192 tokens (what a first start runs).
    "compiled, AOT cache: next start, vLLM's warm-up": Variant({**AOT, **VLLM_WARM_UP},
                                                               COMPILED, "aot"),
    "compiled, inductor cache: first start": Variant(INDUCTOR, COMPILED, "inductor",
                                                     first_start=True),
    "compiled, inductor cache: next start": Variant(INDUCTOR, COMPILED, "inductor"),
    # float32 is what vlesson picks on a CPU without native bf16 (AVX2): compiled there too.
    "dtype=float32, compiled: first start": Variant(AOT, {**COMPILED, "dtype": "float32"},
                                                    "float32", first_start=True),
    "dtype=float32, compiled: next start": Variant(AOT, {**COMPILED, "dtype": "float32"},
                                                   "float32"),
    "OpenMP threads not bound (nobind)": Variant({"VLLM_CPU_OMP_THREADS_BIND": "nobind"}, {}),
    "OpenMP on one core (bind 0)": Variant({"VLLM_CPU_OMP_THREADS_BIND": "0"}, {}),
    "max_num_seqs=16": Variant({}, {"max_num_seqs": 16}),
    "chunked prefill (vLLM's default)": Variant({}, {"enable_chunked_prefill": True}),
    "max_num_batched_tokens=16384": Variant({}, {"max_num_batched_tokens": 16384}),
    "block_size=32": Variant({}, {"block_size": 32}),
    "block_size=256": Variant({}, {"block_size": 256}),
    "prefix caching off": Variant({}, {"enable_prefix_caching": False}),
    "KV cache 4 GiB": Variant({}, {"kv_cache_memory_bytes": 4 << 30}),
}


def measure(engine_kwargs: dict) -> dict:
    """Start the engine with these arguments and measure it (runs in the child)."""
    start = time.perf_counter()
    import torch

    import vlesson as vl

    llm = vl.get_llm(**engine_kwargs)
    ready = time.perf_counter() - start
    config = llm.llm_engine.vllm_config
    slider = {"temperature": 0.7, "max_tokens": 32, "seed": 1, "ignore_eos": True}
    return {
        "ready_s": ready,
        **vllm_figures(vl, llm),
        "slider_ms": 1000 * best_seconds(
            lambda: vl.generate(llm, LONG_PROMPT, slider, use_tqdm=False), 5),
        "settings": {
            "dtype": str(config.model_config.dtype).removeprefix("torch."),
            "max_num_seqs": config.scheduler_config.max_num_seqs,
            "max_num_batched_tokens": config.scheduler_config.max_num_batched_tokens,
            "block_size": config.cache_config.block_size,
            "prefix_caching": config.cache_config.enable_prefix_caching,
            "executor": config.parallel_config.distributed_executor_backend,
            "torch_threads": torch.get_num_threads(),
        },
    }


def run_variant(name: str, caches: str) -> dict | str:
    """Run one variant in a child process; return its figures or the reason it failed."""
    variant = VARIANTS[name]
    env = {**EAGER_UNLESS_ASKED, **variant.env}
    if variant.caches:
        folder = os.path.join(caches, variant.caches)
        if variant.first_start:
            shutil.rmtree(folder, ignore_errors=True)
        env = {**env, **compile_cache_env(folder)}
    return run_child(__file__, json.dumps(variant.engine), env)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", nargs="+", choices=list(VARIANTS), metavar="VARIANT",
                        help="run these rows only (default: all)")
    parser.add_argument("--rounds", type=int, default=1,
                        help="run every row this many times and print medians")
    parser.add_argument("--skip-compile", action="store_true",
                        help="leave out the compiled-graphs rows (2 minutes each)")
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        keep_vllms_warm_up_if_asked()
        print_result(measure(json.loads(args.child)))
        return
    names = args.only or [n for n, v in VARIANTS.items()
                          if not (args.skip_compile and v.engine.get("enforce_eager") is False)]
    caches = tempfile.mkdtemp(prefix="vlesson-knobs-")
    runs = run_rounds(names, lambda name: run_variant(name, caches), args.rounds, "engines")
    shutil.rmtree(caches, ignore_errors=True)
    _print_table(runs)


COLUMNS = ["ready_s", "batch_tok_s", "stream_tok_s", "ttft_ms", "slider_ms"]


def _print_table(runs: dict[str, list[dict]]) -> None:
    """Print the median of every figure per variant, with ratios to the first row."""
    table = {name: medians(rows, COLUMNS) for name, rows in runs.items() if rows}
    print(f"{'variant (median of runs)':40} " + " ".join(f"{c:>12}" for c in COLUMNS)
          + "  against the first row")
    base = next(iter(table.values()), None)
    for name, row in table.items():
        cells = " ".join(f"{row[c]:12.1f}" for c in COLUMNS)
        ratios = ", ".join(f"{c.split('_')[0]} {row[c] / base[c]:.2f}x"
                           for c in ("batch_tok_s", "stream_tok_s", "slider_ms"))
        print(f"{name:40} {cells}  {ratios}  (n={len(runs[name])})")
    for name, rows in runs.items():
        if rows:
            print(f"{name}: {rows[0]['settings']}")


if __name__ == "__main__":
    main()
