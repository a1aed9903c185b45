"""Notebooks 03-06 as lessons: every exercise has a task, a check and a worked answer;
the learner's copy holds the task and the check, never the answer."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlesson.exercises import build, registry

ROOT = Path(__file__).resolve().parents[2]
EXERCISES = ["2.1", "2.5", "2.6", "2.9", "2.10", "2.11", "2.12", "2.13", "2.14"]
EXERCISES += ["challenge", "bonus"]


def source(exercise: str) -> dict:
    notebook = registry.get(exercise).notebook
    return json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())


@pytest.mark.parametrize("exercise", EXERCISES)
def test_every_exercise_has_a_worked_answer_and_a_check(exercise):
    nb = source(exercise)
    parts = build.solution_parts(nb, exercise)
    assert parts and all("BEGIN SOLUTION" not in p for p in parts)
    code = ["".join(c["source"]) for c in nb["cells"] if c["cell_type"] == "code"]
    assert any(f"### BEGIN SOLUTION {exercise}" in c for c in code)
    assert any("vl.check." in c for c in code)


@pytest.mark.parametrize("exercise", EXERCISES)
def test_the_learner_copy_has_the_task_but_not_the_answer(exercise):
    nb = source(exercise)
    learner = build.learner_notebook(nb)
    text = json.dumps(learner)
    assert "BEGIN SOLUTION" not in text and "Discussion." not in text
    answers = [
        region
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for ex, _, region in build.regions("".join(cell["source"]))
        if ex == exercise
    ]
    for region in answers:
        for line in region.splitlines():
            line = line.strip()
            if len(line) > 30 and not line.startswith(("return ", "#")):
                assert line not in text, f"the learner's copy holds {line!r}"
    assert not [c for c in learner["cells"] if "test" in c["metadata"].get("tags", [])]
