"""``vlesson cache stats|clear``: look at or empty the result cache (2.14)."""

from __future__ import annotations

import argparse
from collections.abc import Sequence
from pathlib import Path


def build_parser(prog: str = "vlesson cache") -> argparse.ArgumentParser:
    """Return the parser: an action and an optional cache file."""
    parser = argparse.ArgumentParser(
        prog=prog, description="Show or clear the result cache of vl.cached_generate."
    )
    parser.add_argument("action", choices=["stats", "clear"])
    parser.add_argument(
        "--path",
        type=Path,
        default=None,
        metavar="FILE",
        help="The cache file (default: $VLESSON_HOME/cache/results.sqlite).",
    )
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse argv."""
    return parser.parse_args(argv)


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Print the cache's figures, or empty it."""
    from vlesson.cache import ResultCache

    cache = ResultCache(args.path)
    if args.action == "clear":
        cache.clear()
        print(f"cleared {cache.path}")
        return 0
    stats = cache.stats()
    for key in ("path", "entries", "bytes", "total_hits", "total_misses"):
        print(f"{key:13} {stats[key]}")
    return 0
