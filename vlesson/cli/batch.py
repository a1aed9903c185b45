"""``vlesson batch``: every prompt of a file in one batched call, one file each (2.9)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vlesson import settings
from vlesson.cli import arguments
from vlesson.cli.runlog import run_log_to
from vlesson.engine import get_llm
from vlesson.sampling import make_sampling_params
from vlesson.workflows import batch

DESCRIPTION = """Generate a completion for every prompt of a file (one per line, UTF-8;
blank lines and # comments skipped) in one batched call. Each completion goes to its own
file in --out, named by line number and hash, and manifest.jsonl lists prompt, file,
parameters, tokens, finish reason and time. Run the same command again to resume: done
prompts are skipped."""


def build_parser(prog: str = "vlesson batch") -> argparse.ArgumentParser:
    """Return the parser: engine, sampling, input, output and run-log options."""
    parser = settings.generation_parser(prog, DESCRIPTION)
    out = parser.add_argument_group("Output")
    out.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="Folder for the result files and manifest.jsonl (created if missing).",
    )
    out.add_argument(
        "--chunk-size",
        type=int,
        default=256,
        metavar="N",
        help="Prompts per batched call (default 256); a killed run redoes at most one.",
    )
    return parser


OWN_OPTIONS = ("prompt", "prompts_file", "out", "chunk_size", "log")


parse = settings.parse_with_config


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Check the input, start the engine, generate what is not done yet, report."""
    if args.prompts_file is None and not args.prompt:
        raise settings.UsageError(
            "give the prompts: --prompts-file FILE (one per line)"
        )
    if args.chunk_size < 1:
        raise settings.UsageError(f"--chunk-size must be >= 1, got {args.chunk_size}")
    prompts = arguments.collect_prompts(args)
    # the sampling values were checked before vLLM was imported (check_before_engine)
    engine_args, overrides = settings.split_args(parser, args, OWN_OPTIONS)
    run_log = run_log_to(args)
    llm = get_llm(**engine_args)
    params = make_sampling_params(llm, overrides)
    with run_log:
        report = batch.run(llm, prompts, args.out, params, chunk_size=args.chunk_size)
    print(report)
    for row in report.failed:
        print(f"  line {row['index']}: {row['error']}")
    return 1 if report.failed else 0
