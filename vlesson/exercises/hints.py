"""Help on request: ``vl.hint(id)`` gives the next hint, ``vl.solution(id)`` the answer.

The reference answers live in the notebooks' sources (``notebooks/*.ipynb``, solution
regions and cells tagged ``solution:ID``), never in the learner's copies; showing one
is recorded in the learner's progress.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from vlesson import paths
from vlesson.exercises import build, progress, registry

logger = logging.getLogger(__name__)


class Help(str):
    """A hint or a solution: plain text, shown as Markdown in a notebook."""

    def _repr_markdown_(self) -> str:
        return str(self)

    def __repr__(self) -> str:
        return str(self)


def hint(exercise: str) -> Help:
    """Return the next hint for an exercise (one more each call)."""
    ex = registry.get(exercise)
    if not ex.hints:
        return Help(
            f"**{ex.id}** has no hints; `vl.solution({ex.id!r})` shows the answer."
        )
    try:
        number = progress.next_hint(ex.id)
    except OSError as exc:  # a full disk, a read-only home: still a hint
        logger.warning("hint not counted for %s: %s", ex.id, exc)
        number = 0
    if number >= len(ex.hints):
        return Help(
            f"**{ex.id}**: that was the last hint ({len(ex.hints)}). Re-read them, or "
            f"`vl.solution({ex.id!r})` shows the worked answer."
        )
    more = " (more: call again)" if number + 1 < len(ex.hints) else " (the last one)"
    return Help(
        f"**Hint {number + 1}/{len(ex.hints)} for {ex.id}**{more}: {ex.hints[number]}"
    )


def solution(exercise: str) -> Help:
    """Show the reference answer of an exercise, and record that it was revealed."""
    ex = registry.get(exercise)
    parts, names = [], []
    for name in ex.notebooks:
        source = paths.project_file("notebooks", f"{name}.ipynb")
        notebook: dict[str, Any] = json.loads(source.read_text(encoding="utf-8"))
        found = build.solution_parts(notebook, ex.id)
        if found and len(ex.notebooks) > 1:
            found.insert(0, f"*In `{source.name}`:*")
        parts.extend(found)
        names.extend([f"`notebooks/{source.name}`"] if found else [])
    if not parts:
        return Help(f"**{ex.id}** has no worked answer in {ex.notebook}.ipynb yet.")
    try:
        progress.revealed(ex.id)
    except OSError as exc:
        logger.warning("solution not recorded for %s: %s", ex.id, exc)
    head = f"**Solution of {ex.id}: {ex.title}** (from {' and '.join(names)})"
    return Help("\n\n".join([head, *parts]))
