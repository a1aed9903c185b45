"""Reading names a person typed: "did you mean ...?" and ``name=value,...`` lists."""

from __future__ import annotations

import difflib
from collections.abc import Iterable


def close_names(
    name: str, known: Iterable[str], *, n: int = 1, cutoff: float = 0.6
) -> list[str]:
    """Return up to ``n`` known names close to ``name`` (difflib's ratio >= cutoff)."""
    return difflib.get_close_matches(name, list(known), n=n, cutoff=cutoff)


def did_you_mean(
    name: str,
    known: Iterable[str],
    otherwise: str = "",
    *,
    n: int = 1,
    cutoff: float = 0.6,
) -> str:
    """Return "did you mean 'x'?" (or 'x', 'y' for n > 1), else ``otherwise``."""
    close = close_names(name, known, n=n, cutoff=cutoff)
    return f"did you mean {', '.join(map(repr, close))}?" if close else otherwise


def split_assignment(item: str, example: str) -> tuple[str, str]:
    """Split ``name=value`` (spaces around either kept out); ValueError if no ``=``."""
    name, sep, value = item.partition("=")
    if not sep:
        raise ValueError(f"{item.strip()!r} must look like {example}")
    return name.strip(), value.strip()


def split_assignments(text: str, example: str) -> list[tuple[str, str]]:
    """Parse ``"a=1,b=2"`` into ``[("a", "1"), ("b", "2")]`` (empty items skipped)."""
    items = filter(None, (part.strip() for part in text.split(",")))
    return [split_assignment(item, example) for item in items]
