"""Every exercise and checkpoint of the lesson's sheet, read from the notebooks.

The notebook is the one source of an exercise. Its source notebook in ``notebooks/``
holds, for each exercise, a markdown cell tagged ``exercise:ID`` (left out of the
learner's copy)::

    **Exercise 2.7 🟡 Create a configuration file.** Hints, one at a time from ...

    1. The file's values should become defaults, ...
    2. argparse parsers have a method that changes defaults ...

that is: the id, the sheet's mark and the title in bold on the first line, then the
hints as a numbered list, one line each. The solution regions (``### BEGIN SOLUTION
ID``), the cells tagged ``solution:ID`` and the check the notebook calls complete it
(``vlesson.exercises.build``).

Ids follow the sheet: "2.1" ... "2.15", "challenge", "bonus" (benchmarking) and
"self-1" ... "self-7" (the self-assessment list), plus "play-1" ... for the questions of
the playground (notebook 02) and "paging" for reading vLLM's scheduler (04). Hints go
from a nudge to the name of the tool; none hands over the recipe (``vl.solution(id)`` does, on request).

An exercise may have parts in other notebooks (2.15: validation in 01, the retry in 05):
their solution regions name its id, and ``Exercise.notebooks`` lists them all.
"""

from __future__ import annotations

import dataclasses
import functools
import json
import re
from pathlib import Path
from typing import Any

from vlesson.exercises import build

LEVELS = {"beginner": "🟢", "intermediate": "🟡", "advanced": "🔴"}
"""The sheet's difficulty marks."""

TAG = build.EXERCISE_TAG
"""The tag of the cell that declares an exercise: ``exercise:2.7``."""

_HEAD = re.compile(r"^\*\*Exercise (?P<id>\S+) (?P<mark>\S+) (?P<title>.+?)\.\*\*")
_HINT = re.compile(r"^(?P<number>\d+)\. (?P<text>.+)$")
_SHEET = ("2.", "play-", "paging", "challenge", "bonus", "self-")


@dataclasses.dataclass(frozen=True)
class Exercise:
    """One exercise or checkpoint of the sheet."""

    id: str
    """"2.7", "challenge", "bonus", "self-3"."""
    title: str
    notebook: str
    """The notebook's file name without ".ipynb", e.g. "01_parameters_and_cli"."""
    mark: str
    """The sheet's mark: 🟢 🟡 🔴, 🎯 for the challenge, 📊 the bonus, ✅ self-assessment,
    🎚️ the playground's questions, 🔬 a look inside vLLM."""
    hints: tuple[str, ...] = ()
    """Given one at a time by ``vl.hint(id)``."""
    also_in: tuple[str, ...] = ()
    """Other notebooks holding parts of it (solution regions with its id)."""

    @property
    def notebooks(self) -> tuple[str, ...]:
        """Every notebook holding a part of it, the declaring one first."""
        return (self.notebook, *self.also_in)


def parse(cell: dict[str, Any], notebook: str) -> Exercise:
    """Return the exercise a cell tagged ``exercise:ID`` declares; ValueError saying
    what is wrong if its text does not follow the form above."""
    ids = [t[len(TAG) :] for t in build.tags(cell) if t.startswith(TAG)]
    lines = build.cell_text(cell).splitlines()
    head = _HEAD.match(lines[0]) if lines else None
    if not head or [head["id"]] != ids:
        raise ValueError(
            f"{notebook}: the cell tagged {TAG}{','.join(ids)} must start with "
            f"**Exercise {'/'.join(ids)} MARK Title.**"
        )
    hints = [m for m in map(_HINT.match, lines[1:]) if m]
    if [int(m["number"]) for m in hints] != list(range(1, len(hints) + 1)):
        raise ValueError(f"{notebook}: the hints of {head['id']} are not 1., 2., ...")
    texts = tuple(m["text"] for m in hints)
    return Exercise(head["id"], head["title"], notebook, head["mark"], texts)


def _sheet_order(exercise: Exercise) -> tuple[int, int]:
    """The sheet's order: 2.1 ... 2.15, play-1 ..., paging, the challenge, the bonus,
    self-1 ... self-7."""
    kind = next(i for i, p in enumerate(_SHEET) if exercise.id.startswith(p))
    number = exercise.id[len(_SHEET[kind]) :]
    return kind, int(number) if number.isdigit() else 0


def read(folder: Path) -> tuple[Exercise, ...]:
    """Return the exercises declared in the source notebooks of folder, in the sheet's
    order."""
    found, parts = [], {}
    for path in sorted(folder.glob(build.SOURCE_GLOB)):
        notebook = json.loads(path.read_text(encoding="utf-8"))
        for cell in notebook["cells"]:
            if any(t.startswith(TAG) for t in build.tags(cell)):
                found.append(parse(cell, path.stem))
            for exercise, *_ in build.regions(build.cell_text(cell)):
                parts.setdefault(exercise, set()).add(path.stem)
    ids = [e.id for e in found]
    twice = sorted({i for i in ids if ids.count(i) > 1})
    if twice:
        raise ValueError(f"exercises declared twice in {folder}: {', '.join(twice)}")
    for i, e in enumerate(found):
        others = parts.get(e.id, set()) - {e.notebook}
        found[i] = dataclasses.replace(e, also_in=tuple(sorted(others)))
    return tuple(sorted(found, key=_sheet_order))


@functools.cache
def exercises() -> tuple[Exercise, ...]:
    """Return every exercise of the sheet, read once from the project's notebooks."""
    return read(build.source_dir())


def get(exercise: str) -> Exercise:
    """Return the exercise with this id; KeyError naming the known ids if none."""
    by_id = {e.id: e for e in exercises()}
    try:
        return by_id[exercise]
    except KeyError:
        known = ", ".join(by_id)
        raise KeyError(f"no exercise {exercise!r}; the sheet has: {known}") from None
