"""``vlesson smart``: the smart content generator (the lesson's challenge project)."""

from __future__ import annotations

import argparse
from pathlib import Path

from vlesson import settings
from vlesson.cli import arguments
from vlesson.compat import flexible_argument_parser
from vlesson.engine import get_llm
from vlesson.sampling import validate
from vlesson.workflows import report, smart
from vlesson.workflows.smart import METRICS, STRATEGIES, WEIGHTS

DESCRIPTION = """Generate several completions per sampling strategy for a topic (one
batched call, through the model's chat template), score each with automatic quality
metrics, rank
them, and write a markdown report with the best outputs, a comparison table, summary
statistics and a plot of parameter effects."""


def build_parser(prog: str = "vlesson smart") -> argparse.ArgumentParser:
    """Return the parser: engine options, then the generator's own."""
    parser = flexible_argument_parser()(prog=prog, description=DESCRIPTION)
    settings.add_engine_args(parser)
    group = parser.add_argument_group("Smart generator")
    group.add_argument("--topic", required=True, help="What to write about.")
    group.add_argument(
        "--num-variations",
        type=int,
        default=5,
        metavar="N",
        help="Outputs per strategy (seeds seed..seed+N-1). Default 5.",
    )
    group.add_argument(
        "--strategies",
        default=None,
        metavar="NAMES",
        help=f"Comma-separated strategies (default all): {_listing(STRATEGIES)}",
    )
    weights = ",".join(f"{k}={v:g}" for k, v in WEIGHTS.items())
    group.add_argument(
        "--weights",
        default=None,
        metavar="NAME=W,...",
        help=f"Ranking weights over {', '.join(METRICS)}; default {weights}.",
    )
    group.add_argument(
        "--max-tokens", type=int, default=128, help="Tokens per output (default 128)."
    )
    group.add_argument(
        "--output",
        type=Path,
        default=Path("results.md"),
        metavar="FILE.md",
        help="Markdown report; the plot is saved beside it. Default results.md.",
    )
    return parser


def _listing(strategies: dict) -> str:
    return "; ".join(
        f"{name} ({', '.join(f'{k}={v}' for k, v in params.items())})"
        for name, params in strategies.items()
    )


OWN_OPTIONS = ("topic", "num_variations", "strategies", "weights", "output")


parse = arguments.parse_command_line


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Check the input, generate, rank, and write the report."""
    try:
        strategies = smart.pick_strategies(
            [s.strip() for s in args.strategies.split(",")] if args.strategies else None
        )
        weights = smart.parse_weights(args.weights)
    except ValueError as exc:
        raise settings.UsageError(str(exc)) from None
    if not args.topic.strip() or args.num_variations < 1:
        raise settings.UsageError(
            "--topic must not be empty and --num-variations must be >= 1"
        )
    engine_args, sampling = settings.split_args(parser, args, OWN_OPTIONS)
    validate(sampling)
    llm = get_llm(**engine_args)
    result = smart.run_smart(
        llm,
        args.topic,
        num_variations=args.num_variations,
        strategies=strategies,
        weights=weights,
        max_tokens=sampling["max_tokens"],
        seed=sampling.get("seed", 0),
    )
    path = report.write_smart_report(result, args.output)
    print(report.weights_formula(weights))
    print(
        result.by_strategy()[
            ["strategy", "temperature", "mean_score", "best_score"]
        ].to_string(index=False)
    )
    best = result.best(1).iloc[0]
    print(
        f"\nbest: {best['strategy']} (score {best['score']:.3f}): "
        f"{best['text'][:200]!r}"
    )
    print(f"\nwrote {path} and {path.with_name(path.stem + '_effects.png')}")
    return 0
