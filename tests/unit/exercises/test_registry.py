"""The registry is read from the notebooks, and every exercise is whole: a cell that
declares it (title, mark, hints), a stub in the learner's copy, a check the notebook
calls and its unit test, a worked answer; the learner's copy holds the task and the
check, never the answer or the hints."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

import vlesson as vl
from vlesson.exercises import build, registry

ROOT = Path(__file__).resolve().parents[3]
UNIT_TESTS = ROOT / "tests" / "unit" / "exercises" / "check"
IDS = [e.id for e in registry.exercises()]


def sources(exercise: str) -> list[dict]:
    """Every notebook holding a part of the exercise (2.15: 01 and 05)."""
    return [
        json.loads((ROOT / "notebooks" / f"{name}.ipynb").read_text())
        for name in registry.get(exercise).notebooks
    ]


def checks_of(exercise: str) -> list:
    """The functions of vl.check that grade the exercise (``@checkpoint(ID)``)."""
    found = (getattr(vl.check, name) for name in dir(vl.check))
    return [f for f in found if getattr(f, "exercise", None) == exercise]


def test_the_registry_covers_the_whole_sheet_in_its_order():
    assert IDS == [f"2.{n}" for n in range(1, 16)] + [
        f"play-{n}" for n in range(1, 6)
    ] + ["paging", "challenge", "bonus"] + [f"self-{n}" for n in range(1, 8)]
    marks = {e.id: e.mark for e in registry.exercises()}
    assert marks["2.1"] == "🟢" and marks["2.5"] == "🟡" and marks["2.9"] == "🔴"
    assert {marks["challenge"], marks["bonus"], marks["self-1"]} == {"🎯", "📊", "✅"}
    assert marks["play-1"] == "🎚️"  # the playground's questions (notebook 02)
    assert marks["paging"] == "🔬"  # reading vLLM's scheduler (notebook 04)


def test_every_solution_region_and_check_belongs_to_a_declared_exercise():
    for path in sorted((ROOT / "notebooks").glob(build.SOURCE_GLOB)):
        for cell in json.loads(path.read_text())["cells"]:
            for exercise, *_ in build.regions(build.cell_text(cell)):
                assert path.stem in registry.get(exercise).notebooks, exercise


@pytest.mark.parametrize("exercise", IDS)
def test_every_exercise_is_whole(exercise):
    ex, nbs = registry.get(exercise), sources(exercise)
    assert ex.title and ex.mark and ex.hints, "declared with a title, mark and hints"
    for text in ex.hints:
        assert "```" not in text and "def " not in text, f"a recipe: {text}"
    code = [
        build.cell_text(c) for nb in nbs for c in build.learner_notebook(nb)["cells"]
        if c["cell_type"] == "code"
    ]  # fmt: skip
    regions = [
        r for nb in nbs for c in nb["cells"] for r in build.regions(build.cell_text(c))
        if r[0] == exercise
    ]  # fmt: skip
    assert regions, "a solution region (the learner's copy gets a stub for it)"
    assert any(build.STUB_COMMENT in c for c in code), "a stub in the learner's copy"
    checks = checks_of(exercise)
    assert checks, f"a check: @checkpoint({exercise!r}) in vlesson/exercises/check"
    for check in checks:
        assert any(f"vl.check.{check.__name__}(" in c for c in code), "called"
        module = check.__module__.rsplit(".", 1)[-1]
        unit_test = (UNIT_TESTS / f"test_{module}.py").read_text()
        assert f"checks.{check.__name__}(" in unit_test or (
            f"check.{check.__name__}(" in unit_test
        ), f"a unit test of {check.__name__} in tests/unit/exercises/check"
    parts = [p for nb in nbs for p in build.solution_parts(nb, exercise)]
    assert parts and all("BEGIN SOLUTION" not in p for p in parts), "a worked answer"


@pytest.mark.parametrize("exercise", IDS)
def test_the_learner_copy_has_the_task_but_not_the_answer_or_hints(exercise):
    for nb in sources(exercise):
        _has_the_task_but_not_the_answer_or_hints(nb, exercise)


def _has_the_task_but_not_the_answer_or_hints(nb: dict, exercise: str) -> None:
    learner = build.learner_notebook(nb)
    text = json.dumps(learner, ensure_ascii=False)
    assert "BEGIN SOLUTION" not in text and "Discussion." not in text
    answers = [
        region
        for cell in nb["cells"]
        if cell["cell_type"] == "code"
        for ex, _, region in build.regions("".join(cell["source"]))
        if ex == exercise
    ]
    task = " ".join(  # what the task itself says may name a call of the answer
        build.cell_text(c) for c in learner["cells"] if c["cell_type"] == "markdown"
    )
    for region in answers:
        for line in region.splitlines():
            line = line.strip()
            if len(line) > 30 and not line.startswith(("return ", "#")):
                assert line not in text or line in task, f"the copy holds {line!r}"
    for hint in registry.get(exercise).hints:
        assert hint not in text, "hints come one at a time from vl.hint"
    assert not [c for c in learner["cells"] if "test" in c["metadata"].get("tags", [])]


def test_a_declaration_that_does_not_follow_the_form_fails(tmp_path):
    cell = {
        "cell_type": "markdown",
        "metadata": {"tags": ["exercise:2.7"]},
        "source": "**Exercise 2.8 🟡 Wrong id.**\n\n1. a hint",
    }
    with pytest.raises(ValueError, match="must start with"):
        registry.parse(cell, "01_x")
    cell["source"] = "**Exercise 2.7 🟡 Config.**\n\n1. one\n3. three"
    with pytest.raises(ValueError, match="not 1., 2."):
        registry.parse(cell, "01_x")
    cell["source"] = "**Exercise 2.7 🟡 A config file.**\n\n1. one\n2. two"
    assert registry.parse(cell, "01_x") == registry.Exercise(
        "2.7", "A config file", "01_x", "🟡", ("one", "two")
    )
    notebook = {"cells": [cell, cell], "metadata": {}}
    (tmp_path / "01_x.ipynb").write_text(json.dumps(notebook))
    with pytest.raises(ValueError, match="declared twice.*2.7"):
        registry.read(tmp_path)
