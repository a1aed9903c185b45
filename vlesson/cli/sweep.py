"""``vlesson sweep``: a grid of sampling settings in one batched call (2.10)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vlesson import settings
from vlesson.cli import arguments
from vlesson.cli.runlog import run_log_to
from vlesson.engine import get_llm
from vlesson.workflows import sweep

DESCRIPTION = """Generate every prompt with every combination of a grid of sampling
settings (default: temperature 0.3-1.1 x top_p 0.7-0.99, the exercise's 25) in one batched
call, all with the same seed. Writes results_temp{t}_topp{p}.txt per combination,
sweep.csv with quality metrics per row, a heatmap, and recommends a combination."""


def build_parser(prog: str = "vlesson sweep") -> argparse.ArgumentParser:
    """Return the parser: engine, sampling (shared), input, grid and output options."""
    parser = settings.generation_parser(prog, DESCRIPTION)
    group = parser.add_argument_group("Sweep")
    group.add_argument(
        "--grid",
        action="append",
        default=None,
        metavar="NAME=V1,V2,...",
        help="A swept parameter and its values; repeat for each axis. Default: "
        "temperature=0.3,0.5,0.7,0.9,1.1 and top_p=0.7,0.8,0.9,0.95,0.99.",
    )
    group.add_argument(
        "--goal",
        choices=list(sweep.GOALS),
        default="diverse",
        help="What to recommend for: "
        + "; ".join(f"{k}: {v}" for k, v in sweep.GOALS.items()),
    )
    group.add_argument(
        "--metric",
        choices=list(sweep.METRICS),
        default=sweep.HEATMAP_METRIC,
        help=f"The metric of the heatmap (default {sweep.HEATMAP_METRIC}).",
    )
    group.add_argument(
        "--out",
        type=Path,
        required=True,
        metavar="DIR",
        help="Folder for the result files, sweep.csv and the heatmap.",
    )
    return parser


OWN_OPTIONS = ("prompt", "prompts_file", "grid", "goal", "metric", "out", "log")


parse = settings.parse_with_config


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Check grid and settings, start the engine, sweep, save, recommend."""
    prompts = arguments.collect_prompts(args)
    engine_args, overrides = settings.split_args(parser, args, OWN_OPTIONS)
    grid = sweep.parse_grid(args.grid) if args.grid else sweep.DEFAULT_GRID
    base = {k: v for k, v in overrides.items() if v is not None}
    seed = base.pop("seed", 0)
    both = sorted(set(grid) & set(base))
    if both:
        raise settings.UsageError(
            f"{', '.join(both)} given both as an option and in --grid - drop one"
        )
    sweep.check_grid(grid, base)
    run_log = run_log_to(args)
    llm = get_llm(**engine_args)
    with run_log:
        table = sweep.run(llm, prompts, grid, base=base, seed=seed)
    written = sweep.save(table, args.out, metric=args.metric)
    print(sweep.summary(table).round(3).to_string(index=False))
    print(f"\nwrote {len(written)} files to {args.out}")
    print(recommendation_line(sweep.recommend(table, args.goal)))
    return 0


def recommendation_line(recommendation: sweep.Recommendation) -> str:
    """The line that closes a sweep; the reason starts with its goal."""
    return f"recommended for {recommendation}"
