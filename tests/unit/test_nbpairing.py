"""The tests' own plugin (tests/nbpairing.py): the paired notebook nbval runs holds
the learner's copy and the source, and a check that says the wrong thing fails a
cell."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from tests import nbpairing
from tests.lesson_answers import run_cell
from tests.unit.exercises.test_build import CELL, code, notebook
from vlesson.exercises import build

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "notebooks").glob(build.SOURCE_GLOB))


def _code(notebook: dict) -> list[dict]:
    return [c for c in notebook["cells"] if c["cell_type"] == "code"]


def _part(cell: dict) -> str | None:
    return cell["metadata"].get(nbpairing.PAIRED_KEY)


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.name)
def test_the_paired_notebook_holds_the_learner_copy_and_the_source(source):
    """What the test run executes: every code cell of the learner's copy in order, and
    every code cell of the source, the cells they share once."""
    nb = json.loads(source.read_text())
    paired = nbpairing.paired_notebook(nb)
    learner = [build.cell_text(c) for c in _code(build.learner_notebook(nb))]
    ran_as_learner = [c for c in _code(paired) if _part(c) in (None, "learner")]
    assert [build.cell_text(c) for c in ran_as_learner] == learner
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
    paired = nbpairing.paired_notebook(notebook(*cells), Path("/somewhere"))
    order = [(c["id"], _part(c)) for c in paired["cells"]]
    assert order[:13] == [
        ("test-run-folder", "expect"),
        ("setup", None),
        ("answer-learner", "learner"),
        ("check-learner", "learner"),
        ("expect-check-learner", "expect"),
        ("other", None),  # uses nothing the answer defines: runs once
        ("user-learner", "learner"),
        ("answer", "source"),
        ("check", "source"),
        ("expect-check", "expect"),
        ("test", "source"),
        ("user", "source"),
        ("next-learner", "learner"),
    ]
    assert "os.chdir('/somewhere')" in build.cell_text(paired["cells"][0])
    expects = [build.cell_text(c) for c in paired["cells"] if _part(c) == "expect"]
    assert "learner's copy of 2.8" in expects[1] and "!= 'not attempted'" in expects[1]
    assert "the answers of 2.8" in expects[2] and "!= 'right'" in expects[2]
    assert "verdicts(clear=True)" in expects[1]
    stubbed = build.cell_text(paired["cells"][2])
    assert "raise NotImplementedError" in stubbed and "answer = ..." in stubbed


def _run(cell: dict, names: dict) -> None:
    run_cell(build.cell_text(cell), names)


@pytest.mark.usefixtures("scratch_progress")
def test_an_expectation_cell_fails_when_a_check_says_otherwise():
    """The cells the paired notebook adds, run as a kernel runs them: the learner's
    stub must say "not attempted", the answer "right"; anything else fails the cell."""
    import vlesson as vl

    vl.check.verdicts(clear=True)
    names: dict = {"vl": vl}
    learner = nbpairing.expect_cell("e1", "not attempted", "the learner's copy of 2.7")
    right = nbpairing.expect_cell("e2", "right", "the answers of 2.7")
    vl.check.load_config(...)  # the stub
    _run(learner, names)
    vl.check.load_config(...)  # still the stub where the answer should be
    with pytest.raises(AssertionError, match="expected 'right'.*not attempted"):
        _run(right, names)
    assert vl.check.verdicts() == []  # each expectation cell reads its verdicts once


@pytest.mark.parametrize("server", [None, "http://class:8000"])
def test_a_check_that_needs_a_local_engine_counts_as_right_on_a_class_server_only(
    monkeypatch, server
):
    from vlesson import envvars
    from vlesson.exercises import grading
    from vlesson.remote import local_only

    if server:
        monkeypatch.setenv(envvars.SERVER, server)
    else:
        monkeypatch.delenv(envvars.SERVER, raising=False)
    code = "".join(nbpairing.expect_cell("x", "right", "the source")["source"])
    grading.verdicts(clear=True)
    grading._LOG.append(
        grading.Verdict("2.6", "not attempted", local_only("Comparing memory fractions"))
    )
    if server:
        run_cell(code, {})
    else:
        with pytest.raises(AssertionError, match="needs a local engine"):
            run_cell(code, {})
    grading._LOG.append(grading.Verdict("2.6", "not attempted", "write your answer"))
    with pytest.raises(AssertionError, match="write your answer"):
        run_cell(code, {})  # any other "not attempted" still fails the source
