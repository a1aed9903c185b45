"""Print what batching and caching buy: sweep, batch and cache, on the same prompts.

    flock /tmp/vlesson-engine.lock python bench/workflows_bench.py [--max-tokens 32]

1. The 25-combination sweep as one batched call vs 25 sequential generate calls.
2. ``vl.batch.run`` (one call) vs one generate call per prompt, same process.
3. A cache hit vs a fresh generation of the same request.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from pathlib import Path

import vlesson as vl
from vlesson.workflows import batch, sweep

PROMPTS = [
    *vl.LESSON_PROMPTS,
    "Once upon a time",
    "In the future",
    "The best way to learn a language is",
    "My favourite food is",
]


def timed(fn):
    """Return (seconds, result) of one call."""
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def bench_sweep(llm, max_tokens: int) -> None:
    prompt = "The future of AI is"
    base = {"max_tokens": max_tokens}
    batched, table = timed(
        lambda: sweep.run(llm, prompt, base=base, seed=0, use_tqdm=False)
    )
    combos = sweep.combinations()

    def sequential():
        return [
            vl.generate(llm, prompt, {**base, **c, "seed": 0}, use_tqdm=False)[0]
            for c in combos
        ]

    looped, gens = timed(sequential)
    tokens = int(table["num_tokens"].sum())
    print(f"sweep, {len(combos)} combinations x 1 prompt, max_tokens {max_tokens}:")
    print(f"  one batched call    {batched:6.2f} s  {tokens / batched:7.1f} tok/s")
    looped_tokens = sum(g.num_tokens for g in gens)
    print(f"  25 sequential calls {looped:6.2f} s  {looped_tokens / looped:7.1f} tok/s")
    print(f"  speed-up            {looped / batched:6.1f}x")


def bench_batch(llm, max_tokens: int) -> None:
    params = {"temperature": 0, "max_tokens": max_tokens}
    with tempfile.TemporaryDirectory() as out:
        batched, report = timed(
            lambda: batch.run(llm, PROMPTS, Path(out), params, use_tqdm=False)
        )
        tokens = int(batch.load(out)["num_tokens"].sum())
    assert report.generated == len(PROMPTS)

    def per_prompt():
        return [vl.generate(llm, p, params, use_tqdm=False)[0] for p in PROMPTS]

    looped, gens = timed(per_prompt)
    print(f"\nbatch, {len(PROMPTS)} prompts, greedy, max_tokens {max_tokens}:")
    print(
        f"  vl.batch.run (1 call, files) {batched:6.2f} s  {tokens / batched:7.1f} tok/s"
    )
    looped_tokens = sum(g.num_tokens for g in gens)
    print(
        f"  one generate per prompt      {looped:6.2f} s  "
        f"{looped_tokens / looped:7.1f} tok/s"
    )
    print(f"  speed-up                     {looped / batched:6.1f}x")
    load = vl.engine_info(llm)["load_seconds"]
    print(f"  (the exercise's loop, a process per prompt, adds this run's {load} s engine")
    print("   load, plus the vLLM import, to every prompt)")

def bench_cache(llm, max_tokens: int) -> None:
    params = {"temperature": 0, "max_tokens": max_tokens}
    prompt = "The capital of France is"
    with tempfile.TemporaryDirectory() as folder:
        cache = vl.cache.ResultCache(Path(folder) / "bench.sqlite")
        fresh, _ = timed(
            lambda: vl.cached_generate(llm, prompt, params, cache=cache, use_tqdm=False)
        )
        hits = [
            timed(
                lambda: vl.cached_generate(
                    llm, prompt, params, cache=cache, use_tqdm=False
                )
            )[0]
            for _ in range(20)
        ]
        assert (cache.hits, cache.misses) == (20, 1)
    hit = statistics.median(hits)
    print(f"\ncache, 1 prompt, greedy, max_tokens {max_tokens}:")
    print(f"  fresh generation (miss + store) {fresh * 1000:8.1f} ms")
    print(f"  cache hit (median of 20)        {hit * 1000:8.1f} ms")
    print(f"  speed-up                        {fresh / hit:8.0f}x")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--max-tokens", type=int, default=32)
    args = parser.parse_args()
    llm = vl.get_llm()
    vl.generate(llm, PROMPTS, {"max_tokens": 8}, use_tqdm=False)  # warm-up
    info = vl.engine_info(llm)
    print(f"engine: {info['model']}, {info['dtype']}, {info['device']}\n")
    bench_sweep(llm, args.max_tokens)
    bench_batch(llm, args.max_tokens)
    bench_cache(llm, args.max_tokens)


if __name__ == "__main__":
    main()
