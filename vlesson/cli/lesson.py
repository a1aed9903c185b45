"""``vlesson lesson build|reset|progress``: the learner's notebooks and progress.

``build`` writes the learner's copies that are missing (``make lab`` runs it; an edited
notebook is never overwritten); ``reset NN`` gives a fresh copy of one notebook and keeps
the old one beside it; ``progress`` prints where the learner is.
"""

from __future__ import annotations

import argparse
from pathlib import Path

from vlesson.exercises import build, progress
from vlesson.settings import UsageError


def build_parser(prog: str = "vlesson lesson") -> argparse.ArgumentParser:
    """Return the parser: an action, a notebook for reset, and the folders."""
    parser = argparse.ArgumentParser(
        prog=prog,
        description="Build the learner's notebooks from notebooks/ (never overwriting "
        "one), give a fresh copy of one (keeping the old), or show progress.",
    )
    parser.add_argument("action", choices=["build", "reset", "progress"])
    parser.add_argument(
        "notebooks",
        nargs="*",
        metavar="NN",
        help="reset: the notebook(s), by number or name (e.g. 01); build: only these",
    )
    parser.add_argument(
        "--dest",
        type=Path,
        default=None,
        metavar="DIR",
        help=f"The learner's folder (default: {build.LEARNER_DIR}/ in the checkout).",
    )
    return parser


def parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    """Parse with notebooks and --dest in any order (``reset --dest DIR 01``)."""
    return parser.parse_intermixed_args(argv)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Do the action; print what was written or kept."""
    if args.action == "progress":
        for row in progress.table():
            print(
                f"{row['exercise']:10} {row['level']} {row['status']:18} {row['date']}"
            )
        return 0
    if args.action == "build":
        built = build.build_missing(dest=args.dest, names=args.notebooks or None)
        for path in built:
            print(f"built {path}")
        return 0
    if not args.notebooks:
        raise UsageError("reset needs a notebook, e.g. vlesson lesson reset 01")
    for name in args.notebooks:
        try:
            fresh, kept = build.reset(name, dest=args.dest)
        except FileNotFoundError as exc:
            raise UsageError(str(exc)) from None
        print(f"fresh copy: {fresh}" + (f" (your old one: {kept})" if kept else ""))
    return 0
