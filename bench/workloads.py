"""What the CPU benchmarks (bench/cpu_engines.py, bench/cpu_knobs.py, bench/start_costs.py)
share: the workloads, vLLM's figures on them, running one measurement in a child process,
compile caches of a row's own, and rounds of rows with their medians."""

from __future__ import annotations

import itertools
import json
import os
import signal
import statistics
import subprocess
import sys
from collections.abc import Callable

from tqdm import tqdm

from vlesson.workflows.bench import best_seconds

BATCH_PROMPTS = [f"Story {i}: once upon a time" for i in range(64)]
SHORT_PROMPT = "The capital of France is"
BATCH_PARAMS = {"temperature": 0.8, "max_tokens": 64, "seed": 0, "ignore_eos": True}
STREAM_PARAMS = {"temperature": 0, "max_tokens": 128, "ignore_eos": True}


def vllm_figures(vl, llm) -> dict:
    """Warm up, then 64x64 batched tok/s, one 128-token stream, and time to first token."""
    def gen(prompts, params):
        return lambda: vl.generate(llm, prompts, params, use_tqdm=False)

    gen(BATCH_PROMPTS[:4], BATCH_PARAMS)()  # first-call warm-up
    return {
        "batch_tok_s": 64 * 64 / best_seconds(gen(BATCH_PROMPTS, BATCH_PARAMS), 2),
        "stream_tok_s": 128 / best_seconds(gen("Hello", STREAM_PARAMS), 2),
        "ttft_ms": 1000 * best_seconds(gen(SHORT_PROMPT, {"max_tokens": 1})),
    }


def compile_cache_env(folder: str) -> dict[str, str]:
    """The environment that keeps vLLM's and torch inductor's compile caches in ``folder``,
    so a row's compiled starts neither find nor fill the user's own caches."""
    return {"VLLM_CACHE_ROOT": os.path.join(folder, "vllm"),
            "TORCHINDUCTOR_CACHE_DIR": os.path.join(folder, "inductor")}


VLLM_WARM_UP = {"VLESSON_BENCH_VLLM_WARM_UP": "1"}
"""A row's environment that gives a compiled CPU engine vLLM's own warm-up (a forward
pass over the whole step budget) instead of vlesson's 16 tokens: the figures before."""
EAGER_UNLESS_ASKED = {"VLESSON_COMPILE": "0"}
"""A row's environment where only ``enforce_eager=False`` compiles, whatever
``vlesson compile`` compiled for the user."""


def keep_vllms_warm_up_if_asked() -> None:
    """In a child: keep vLLM's warm-up where the row asked for :data:`VLLM_WARM_UP`,
    also for a start that loads what vLLM saved (``compat.briefly_warmed_up``)."""
    if os.environ.get(next(iter(VLLM_WARM_UP))) == "1":
        import contextlib

        import vlesson.engine

        vlesson.engine.briefly_warmed_up = contextlib.nullcontext


def print_result(figures: dict) -> None:
    """Hand a child's figures to the parent (see run_child)."""
    print("RESULT " + json.dumps(figures))


def run_child(script: str, arg: str, env: dict[str, str] | None = None) -> dict | str:
    """Run ``script --child arg`` in a fresh interpreter (one engine per process);
    return the figures it printed, or the last line of its error output."""
    proc = subprocess.run(
        [sys.executable, script, "--child", arg],
        capture_output=True, text=True, env={**os.environ, **(env or {})}, check=False,
    )
    line = next((x for x in proc.stdout.splitlines() if x.startswith("RESULT ")), None)
    if line is None:
        return (proc.stderr.strip().splitlines() or [_exit_reason(proc.returncode)])[-1]
    return json.loads(line[len("RESULT "):])


def _exit_reason(code: int) -> str:
    """How a child that printed nothing ended: its exit code, or the signal that killed it."""
    if code < 0:
        return f"no output, killed by {signal.Signals(-code).name}"
    return f"no output, exit code {code}"


def run_rounds(rows: list[str], run: Callable[[str], dict | str], rounds: int,
               desc: str) -> dict[str, list[dict]]:
    """Run every row ``rounds`` times, interleaved (all rows, then all again), so that a
    slow spell of a shared machine falls on every row alike; a failed run is reported and
    left out."""
    runs: dict[str, list[dict]] = {name: [] for name in rows}
    for _, name in tqdm(list(itertools.product(range(rounds), rows)), desc=desc):
        result = run(name)
        if isinstance(result, str):
            tqdm.write(f"{name}: failed: {result}")
        else:
            runs[name].append(result)
    return runs


def medians(results: list[dict], columns: list[str]) -> dict[str, float]:
    """The median of each column over a row's runs."""
    return {c: statistics.median(r[c] for r in results) for c in columns}
