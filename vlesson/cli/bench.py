"""``vlesson bench``: TTFT, tokens/s and memory across models, batches, configs."""

from __future__ import annotations

import argparse
import time
from pathlib import Path

from vlesson import paths
from vlesson.models import DEFAULT_MODEL
from vlesson.settings import UsageError
from vlesson.workflows import bench
from vlesson.workflows.bench import BATCH_SIZES, TOLERANCE

DESCRIPTION = """Benchmark vLLM: time to first token (vLLM's per-request metrics),
generated and prompt tokens/s, total time and peak memory (RAM; GPU through NVML) for
every model x
--params configuration x batch size, cross-checked against vLLM's own counters. Writes a
CSV and a PNG plot."""


def build_parser(prog: str = "vlesson bench") -> argparse.ArgumentParser:
    """Return the parser (plain argparse: --help needs no vLLM import)."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    parser.add_argument(
        "--model",
        action="append",
        default=None,
        metavar="NAME",
        help=f"Model to benchmark; repeat for several (default {DEFAULT_MODEL}).",
    )
    parser.add_argument(
        "--batch-sizes",
        type=int,
        nargs="+",
        default=list(BATCH_SIZES),
        metavar="N",
        help="Batch sizes (default 1 8 64).",
    )
    parser.add_argument(
        "--params",
        action="append",
        default=None,
        metavar="NAME=V,...",
        help='Sampling configuration, e.g. "temperature=0.8,top_p=0.9"; '
        "repeat for several (default temperature=0).",
    )
    parser.add_argument(
        "--max-tokens",
        type=int,
        default=32,
        help="Tokens per request; every request generates exactly this many.",
    )
    parser.add_argument(
        "--seed", type=int, default=0, help="Sampling seed (default 0)."
    )
    parser.add_argument(
        "--dtype", default=None, help="Engine dtype (default: vlesson's)."
    )
    parser.add_argument(
        "--output",
        type=Path,
        default=None,
        metavar="FILE.csv",
        help="CSV to write (plot beside it); default in ~/.cache/vlesson/bench.",
    )
    parser.add_argument(
        "--tolerance",
        type=float,
        default=TOLERANCE,
        help=f"Allowed relative gap to vLLM's figures (default {TOLERANCE}).",
    )
    return parser


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Check the input, benchmark, print and write the results."""
    import pandas as pd

    try:
        configs = [
            bench.parse_config(text) for text in args.params or ["temperature=0"]
        ]
    except ValueError as exc:
        raise UsageError(f"--params: {exc}") from None
    if min(args.batch_sizes) < 1 or args.max_tokens < 1:
        raise UsageError("--batch-sizes and --max-tokens must be >= 1")
    output = args.output or paths.subdir("bench") / time.strftime(
        "bench-%Y%m%d-%H%M%S.csv"
    )
    engine = {"dtype": args.dtype} if args.dtype else {}
    results = bench.run_bench(
        args.model or [None],
        args.batch_sizes,
        configs,
        max_tokens=args.max_tokens,
        seed=args.seed,
        **engine,
    )
    csv, plot = bench.write_bench(results, output)
    shown = [
        "model",
        "config",
        "batch_size",
        "ttft_mean_s",
        "gen_tok_s",
        "prompt_tok_s",
        "total_s",
        "peak_rss_mib",
    ]
    with pd.option_context("display.width", 200):
        print(results[shown].to_string(index=False))
    check = bench.cross_check(results, args.tolerance)
    verdict = "agree" if check["ok"].all() else "DISAGREE"
    print(
        f"\ncross-check with vLLM's own metrics: {int(check['ok'].sum())}/{len(check)} "
        f"cases {verdict} (tokens exact; TTFT and tok/s within {args.tolerance:.0%})"
    )
    print(f"wrote {csv} and {plot}")
    return 0 if check["ok"].all() else 1
