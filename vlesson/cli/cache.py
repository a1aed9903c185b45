"""``vlesson cache stats|clear``: look at or empty the result cache (2.14)."""

from __future__ import annotations

import argparse
import sqlite3
import sys
from pathlib import Path

from vlesson.settings import UsageError
from vlesson.workflows.cache import NotACacheError, ResultCache


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


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Print the cache's figures, or empty it."""
    cache = ResultCache(args.path)
    if args.action == "clear":
        try:
            cleared = cache.clear()
        except NotACacheError as exc:
            raise UsageError(str(exc)) from None
        print(f"cleared {cache.path}" if cleared
              else f"nothing to clear: {cache.path} does not exist")
        return 0
    try:
        stats = cache.stats(strict=True)
    except (sqlite3.Error, OSError, NotACacheError) as exc:
        print(
            f"vlesson cache: {cache.path} cannot be read ({exc}) - if it is vlesson's "
            f"cache, `vlesson cache clear` deletes it",
            file=sys.stderr,
        )
        return 1
    for key in ("path", "entries", "bytes", "total_hits", "total_misses"):
        print(f"{key:13} {stats[key]}")
    return 0
