"""Notebook 04's drawings of vLLM's scheduler, as files: the batch timeline and the block
table of four requests (two sharing a prefix), and a chunked prefill beside decodes.

Prints each recording's timeline and writes PNGs to ``--out`` (a folder). On a GPU the
recordings run in an engine of their own (vLLM's engine core is in a child process
there); the chunked one always does (its own step budget).

    python bench/machinery_figures.py [--out bench/figures] [--model NAME]
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import matplotlib

matplotlib.use("Agg")

STORY = " ".join(
    f"Fact {i}: the river is long and the mountains are high." for i in range(25)
)
"""The long shared prefix of notebook 04's requests (about 370 tokens)."""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", default="bench/figures")
    parser.add_argument("--model", default=None)
    args = parser.parse_args()
    os.makedirs(args.out, exist_ok=True)

    import pandas as pd
    from vllm import SamplingParams

    import vlesson as vl

    pd.set_option("display.width", 160)
    llm = vl.get_llm(args.model)
    params = SamplingParams(temperature=0, max_tokens=6, ignore_eos=True)
    info = vl.engine_info(llm)
    where = f"{platform.machine()} {info['device']}, {info['dtype']}"
    print(f"engine: {where}")

    start = time.perf_counter()
    paging = vl.machinery.record(
        llm,
        [f"{STORY} Question: what is long?", f"{STORY} Question: what is high?",
         "The capital of France is", "Once upon a time"],
        params,
        arrive_at=[0, 2, 3, 5],
    )  # fmt: skip
    print(f"\nprefix sharing, {time.perf_counter() - start:.1f} s "
          f"(blocks of {paging.block_size} tokens):")
    print(paging.timeline().to_string(index=False))
    print(paging.block_table(3).to_string(index=False))
    save(vl.machinery.draw_timeline(paging), args.out, "timeline.png")
    save(vl.machinery.draw_block_table(paging, step=3), args.out, "block_table.png")

    start = time.perf_counter()
    chunked = vl.machinery.record(
        llm,
        ["The capital of France is", "Once upon a time", f"{STORY} Question: why?"],
        params,
        arrive_at=[0, 0, 2],
        engine_args={
            "enable_chunked_prefill": True, "max_num_batched_tokens": 128, "max_num_seqs": 8,
        },
    )
    print(f"\nchunked prefill, budget {chunked.token_budget} tokens a step, "
          f"{time.perf_counter() - start:.1f} s with its engine's start:")
    print(chunked.timeline().to_string(index=False))
    save(vl.machinery.draw_timeline(chunked), args.out, "chunked_prefill.png")


def save(ax, folder: str, name: str) -> None:
    """Write the drawing on ``ax`` to ``folder/name``."""
    path = os.path.join(folder, name)
    ax.figure.savefig(path, dpi=110, bbox_inches="tight")
    print(f"wrote {path}")


if __name__ == "__main__":
    main()
