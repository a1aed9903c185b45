"""The learner's notebooks: built from the sources, stubs for solutions, never
overwritten, byte-stable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlesson import envvars
from vlesson.exercises import build

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

CELL = """def f(x):
    '''Double x.'''
    ### BEGIN SOLUTION 2.8
    y = 2 * x
    return y
    ### END SOLUTION

### BEGIN SOLUTION 2.8
answer = f(2)
total: int = 4
### END SOLUTION
print(answer)"""


def test_regions_become_stubs_inside_functions_and_at_top_level():
    out = build.clear_solutions(CELL)
    assert "2 * x" not in out and "f(2)" not in out
    assert "    # YOUR CODE HERE\n    raise NotImplementedError" in out
    assert "# YOUR CODE HERE\nanswer = ...\ntotal = ...\nprint(answer)" in out
    assert "'''Double x.'''" in out


def test_ipython_shell_assignments_keep_their_name():
    code = "### BEGIN SOLUTION self-7\nlog = !vlesson generate 2>&1\n### END SOLUTION"
    assert build.clear_solutions(code) == "# YOUR CODE HERE\nlog = ..."


@pytest.mark.parametrize(
    ("code", "error"),
    [
        ("### BEGIN SOLUTION\nx = 1\n### END SOLUTION", "needs the exercise id"),
        ("### BEGIN SOLUTION 2.1\nx = 1\n", "never closed"),
        ("x = 1\n### END SOLUTION", "without"),
    ],
)
def test_markers_that_do_not_pair_up_fail(code, error):
    with pytest.raises(build.SourceError, match=error):
        build.clear_solutions(code)


def notebook(*cells):
    return {"cells": list(cells), "metadata": {}, "nbformat": 4, "nbformat_minor": 5}


def code(src, tags=(), cid="c1"):
    return {
        "cell_type": "code",
        "id": cid,
        "source": src,
        "execution_count": 3,
        "outputs": [{"output_type": "stream", "name": "stdout", "text": "x"}],
        "metadata": {"tags": list(tags), "jupyter": {"source_hidden": True}},
    }


def test_learner_copy_drops_answers_tests_and_outputs():
    prose = {
        "cell_type": "markdown",
        "id": "m1",
        "source": "The answer is 4.",
        "metadata": {"tags": ["solution:2.8"]},
    }
    src = notebook(code(CELL), code("assert answer == 4", ["test"], "c2"), prose)
    learner = build.learner_notebook(src)
    assert [c["id"] for c in learner["cells"]] == ["c1"]
    only = learner["cells"][0]
    assert only["outputs"] == [] and only["execution_count"] is None
    assert "jupyter" not in only["metadata"]
    assert src["cells"][0]["outputs"]  # the source itself is untouched
    parts = build.solution_parts(src, "2.8")
    assert parts[1] == "The answer is 4." and "return y" in parts[0]
    assert "BEGIN SOLUTION" not in parts[0]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_every_source_builds_the_same_bytes_twice(source, tmp_path):
    first = build.build_one(source, tmp_path / "a.ipynb").read_bytes()
    second = build.build_one(source, tmp_path / "b.ipynb").read_bytes()
    assert first == second
    learner = json.loads(first)
    text = json.dumps(learner)
    assert "BEGIN SOLUTION" not in text and "solution:" not in text
    src_ids = [c["id"] for c in json.loads(source.read_text())["cells"]]
    assert [c["id"] for c in learner["cells"]] == [
        i for i in src_ids if i in {c["id"] for c in learner["cells"]}
    ]


def test_build_never_overwrites_and_reset_keeps_the_old_copy(tmp_path):
    dest = tmp_path / "mine"
    built = build.build_missing(ROOT / "notebooks", dest)
    assert {p.name for p in built} == {p.name for p in SOURCES}
    mine = dest / "07_self_assessment.ipynb"
    mine.write_text(mine.read_text().replace("command = ...", "command = 'mine'"))
    assert build.build_missing(ROOT / "notebooks", dest) == []
    assert "command = 'mine'" in mine.read_text()
    fresh, kept = build.reset("07", ROOT / "notebooks", dest)
    assert fresh == mine and "command = ..." in fresh.read_text()
    assert kept.name.startswith("07_self_assessment.old-")
    assert "command = 'mine'" in kept.read_text()
    with pytest.raises(FileNotFoundError, match="there are: 00_contents"):
        build.reset("99", ROOT / "notebooks", dest)


@pytest.mark.parametrize(
    "exercise",
    ["2.2", "2.3", "2.4", "2.7", "2.8", "2.15"] + [f"self-{n}" for n in range(1, 8)],
)
def test_every_exercise_of_01_and_07_has_a_worked_answer(exercise):
    from vlesson.exercises import registry

    notebook = registry.get(exercise).notebook
    source = json.loads((ROOT / "notebooks" / f"{notebook}.ipynb").read_text())
    parts = build.solution_parts(source, exercise)
    assert parts and all("BEGIN SOLUTION" not in p for p in parts)


def _code(notebook: dict) -> list[dict]:
    return [c for c in notebook["cells"] if c["cell_type"] == "code"]


def _part(cell: dict) -> str | None:
    return cell["metadata"].get(build.PAIRED_KEY)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_the_paired_notebook_holds_the_learner_copy_and_the_source(source):
    """What the test run executes: every code cell of the learner's copy in order, and
    every code cell of the source, the cells they share once (notebooks/conftest.py)."""
    nb = json.loads(source.read_text())
    paired = build.paired_notebook(nb)
    learner = [build._text(c) for c in _code(build.learner_notebook(nb))]
    ran_as_learner = [c for c in _code(paired) if _part(c) in (None, "learner")]
    assert [build._text(c) for c in ran_as_learner] == learner
    source_ids = [c["id"] for c in _code(nb)]
    ran = [c["id"] for c in _code(paired) if _part(c) in (None, "source")]
    assert sorted(ran) == sorted(source_ids)
    answered = {c["id"] for c in _code(paired) if _part(c) == "source"}
    assert [i for i in ran if i in answered] == [i for i in source_ids if i in answered]
    ids = [c["id"] for c in paired["cells"]]
    assert len(ids) == len(set(ids))  # Jupyter needs unique ids


def test_a_stub_and_the_cells_using_it_run_first_expecting_not_attempted():
    setup = code("llm = 1", cid="setup")
    answer = code(CELL, cid="answer")
    check = code("vl.check.double(f)", cid="check")
    other = code("unrelated = 2", cid="other")
    test = code("assert answer == 4", ["test"], "test")
    user = code("print(answer + unrelated)", cid="user")
    nxt = code("### BEGIN SOLUTION 2.9\nz = 3\n### END SOLUTION", cid="next")
    cells = (setup, answer, check, other, test, user, nxt)
    paired = build.paired_notebook(notebook(*cells))
    order = [(c["id"], _part(c)) for c in paired["cells"]]
    assert order[:10] == [
        ("setup", None),
        ("learner-answer", "expect"),
        ("answer-learner", "learner"),
        ("check-learner", "learner"),
        ("other", None),  # uses nothing the answer defines: runs once
        ("user-learner", "learner"),
        ("answer-answer", "expect"),
        ("answer", "source"),
        ("check", "source"),
        ("test", "source"),
    ]
    assert order[10:12] == [("user", "source"), ("learner-next", "expect")]
    expects = [build._text(c) for c in paired["cells"] if _part(c) == "expect"]
    assert expects[0].endswith(f"%env {envvars.EXPECT_CHECKS}=not attempted")
    assert "learner's copy of 2.8" in expects[0] and expects[1].endswith("=right")
    stubbed = build._text(paired["cells"][2])
    assert "raise NotImplementedError" in stubbed and "answer = ..." in stubbed
