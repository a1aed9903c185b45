"""Engine start-up and throughput of the offline model, float32 against bfloat16.

Prints, side by side from one run: import time, engine load time, tokens/s on the lesson's
four prompts (greedy, <= 40 tokens) and on 64 prompts x 64 tokens (T=0.8, seeded).

    .venv/bin/python bench/engine_startup.py [--dtypes float32 bfloat16]
"""

from __future__ import annotations

import argparse
import time


def measure(dtype: str) -> dict:
    """Start an engine in this dtype and time the two workloads on it."""
    import vlesson as vl

    start = time.perf_counter()
    llm = vl.get_llm(dtype=dtype)
    load = time.perf_counter() - start
    vl.generate(llm, "Warm-up", {"max_tokens": 2}, use_tqdm=False)
    row = {"dtype": dtype, "load_s": round(load, 1)}
    workloads = {
        "lesson_4x40_tok_s": (vl.LESSON_PROMPTS, {"temperature": 0, "max_tokens": 40}),
        "batch_64x64_tok_s": (
            [f"Story {i}: once upon a time" for i in range(64)],
            {"temperature": 0.8, "max_tokens": 64, "seed": 0, "ignore_eos": True},
        ),
    }
    for name, (prompts, params) in workloads.items():
        t = time.perf_counter()
        gens = vl.generate(llm, prompts, params, use_tqdm=False)
        row[name] = round(sum(g.num_tokens for g in gens) / (time.perf_counter() - t), 1)
    vl.release()
    return row


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--dtypes", nargs="+", default=["float32", "bfloat16"])
    args = parser.parse_args()
    t = time.perf_counter()
    import vllm  # noqa: F401  (timed on its own: every start pays it once)

    import_s = time.perf_counter() - t
    import vlesson as vl

    rows = [measure(dtype) for dtype in args.dtypes]
    print(f"import vllm: {import_s:.1f} s; vlesson's CPU default dtype here: "
          f"{vl.effective_engine_args().get('dtype', 'auto (GPU)')}")
    keys = list(rows[0])
    print(" | ".join(f"{k:>18}" for k in keys))
    for row in rows:
        print(" | ".join(f"{row[k]!s:>18}" for k in keys))
    if len(rows) == 2:
        for k in keys[2:]:
            print(f"{k}: {rows[1]['dtype']} / {rows[0]['dtype']} = "
                  f"{rows[1][k] / rows[0][k]:.2f}x")


if __name__ == "__main__":
    main()
