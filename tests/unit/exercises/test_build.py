"""The learner's notebooks: built from the sources, stubs for solutions, never
overwritten, byte-stable."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from vlesson.exercises import build

ROOT = Path(__file__).resolve().parents[3]
SOURCES = sorted((ROOT / "notebooks").glob(build.SOURCE_GLOB))

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


def test_a_script_cell_gets_a_stub_that_fails_and_binds_no_names():
    code = (
        "%%writefile {work}/run.sh\n#!/usr/bin/env bash\n### BEGIN SOLUTION 2.9\n"
        "out=$2\nexec vlesson batch --out \"$out\"\n### END SOLUTION"
    )
    out = build.clear_solutions(code)
    assert out == (
        "%%writefile {work}/run.sh\n#!/usr/bin/env bash\n# YOUR CODE HERE\n"
        + build.SCRIPT_STUB
    )  # bash, not "out = ..."
    assert build.bound_names(code) == []


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


def test_a_number_names_its_notebook_not_the_one_that_continues_it(tmp_path):
    for name in ("04_batch.ipynb", "04b_log.ipynb", "05_api.ipynb", "notes.ipynb"):
        (tmp_path / name).write_text("{}")
    assert build.find_source("04", tmp_path).name == "04_batch.ipynb"
    assert build.find_source("04b", tmp_path).name == "04b_log.ipynb"
    assert build.find_source("04_b", tmp_path).name == "04_batch.ipynb"
    assert [p.name for p in sorted(tmp_path.glob(build.SOURCE_GLOB))] == [
        "04_batch.ipynb", "04b_log.ipynb", "05_api.ipynb"
    ]
