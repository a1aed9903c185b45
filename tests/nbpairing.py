"""A pytest plugin for ``notebooks/``: nbval runs each source notebook paired with the
learner's copy built from it, in one kernel (one engine).

Before each answer, the learner's stub and the cells that use it run, and every check
must say "not attempted"; then the answer and those cells again, and every check must
say "right". Cells that do not use an answer run once, so one run tests both the
learner's copy and the source for the price of about one.

How a check's verdict fails a cell: after every cell that mentions a check, the paired
notebook holds a test-run cell that reads ``vl.check.verdicts(clear=True)`` (the
verdicts given since the last such cell) and asserts that each says what is expected.
The product knows nothing of this: it only keeps a log of its verdicts.

On public APIs only: ``pytest_collect_file`` returns a ``pytest.File`` for the source
notebook, whose ``collect`` writes the paired notebook to a temporary folder and yields
nbval's ``IPyNbFile`` for it (node ids ``notebooks/NN_name.ipynb::paired::Cell N``).
The paired notebook's first cell moves the kernel to the source's folder, where Jupyter
would start it; its kernel gets a scratch progress file, never the learner's.
notebooks/conftest.py imports the hook.
"""

from __future__ import annotations

import ast
import copy
import json
import os
import re
import tempfile
from pathlib import Path
from typing import Any

import pytest
from nbval.plugin import IPyNbFile

from vlesson import envvars
from vlesson.exercises.build import (  # CHECK_CALL: the first after an answer grades it
    CHECK_CALL,
    bound_names,
    cell_text,
    clear_solutions,
    dumps,
    in_learner_copy,
    regions,
    source_lines,
)

PAIRED_KEY = "vlesson-test-run"
"""Cell metadata of the paired notebook: "learner" (the learner's copy of a stretch),
"source" (the source's) or "expect" (a test-run cell: asserts on the verdicts, or
moves the kernel); cells without it belong to both notebooks and run once."""

NOT_ATTEMPTED, RIGHT = "not attempted", "right"


def _mentions(code: str, names: set[str]) -> bool:
    """Whether code uses one of the names as a variable (not in a string or comment,
    not as an attribute); IPython syntax is searched as text."""
    try:
        used = {n.id for n in ast.walk(ast.parse(code)) if isinstance(n, ast.Name)}
    except SyntaxError:
        text = re.sub(r"#.*", "", code)
        words = (rf"(?<![\w.-]){re.escape(n)}(?![\w-])" for n in names)
        return any(re.search(word, text) for word in words)
    return bool(used & names)


def learner_span(cells: list[dict[str, Any]], start: int) -> dict[int, str]:
    """Return the roles of the cells from the answer cell at start to the last cell
    that uses what it defines (or its first check): "answer", "uses" (runs with the
    stub, then again with the answer), "source" (test and solution cells: not in the
    learner's copy), and "once" (does not use it: runs once)."""
    names = set(bound_names(cell_text(cells[start])))
    later = [
        k for k in range(start + 1, len(cells))
        if cells[k]["cell_type"] == "code" and in_learner_copy(cells[k])
    ]  # fmt: skip
    roles, checked = {start: "answer"}, False
    for k in later:
        code = cell_text(cells[k])
        answer = bool(regions(code))
        used_later = any(_mentions(cell_text(cells[m]), names) for m in later if m > k)
        if answer and checked and not _mentions(code, names) and not used_later:
            break  # the next exercise: nothing after it uses this one
        if answer or _mentions(code, names) or (CHECK_CALL in code and not checked):
            roles[k] = "answer" if answer else "uses"
            checked = checked or CHECK_CALL in code
            names.update(bound_names(code))
    for k in range(start, max(roles) + 1):
        source_only = cells[k]["cell_type"] == "code" and not in_learner_copy(cells[k])
        roles.setdefault(k, "source" if source_only else "once")
    return dict(sorted(roles.items()))


def _paired(cell: dict[str, Any], part: str, cell_id: str = "") -> dict[str, Any]:
    cell = copy.deepcopy(cell)
    cell["metadata"] = {**cell.get("metadata", {}), PAIRED_KEY: part}
    if cell_id:
        cell["id"] = cell_id
    return cell


def _test_cell(cell_id: str, code: str) -> dict[str, Any]:
    cell = {"cell_type": "code", "id": cell_id, "source": source_lines(code)}
    cell.update(outputs=[], execution_count=None, metadata={})
    return _paired(cell, "expect")


def expect_cell(cell_id: str, status: str, what: str) -> dict[str, Any]:
    """Return a test-run cell that fails unless every check since the last one said
    ``status``."""
    # On a class server a check of a local engine's table has nothing to read: its
    # "not attempted ... needs a local engine" counts as right there, and only there.
    code = (
        f"# test run: every check of {what} since the last such cell says {status!r}\n"
        "import os as _os, vlesson as _vl\n"
        "_local = lambda v: (v.status == 'not attempted' and _os.environ.get("
        f"{envvars.SERVER!r}) and 'needs a local engine' in v.message)\n"
        f"_other = [v for v in _vl.check.verdicts(clear=True) if v.status != {status!r}"
        f"{' and not _local(v)' if status == RIGHT else ''}]\n"
        f'assert not _other, f"expected {status!r}, the check said: {{_other}}"'
    )
    return _test_cell(cell_id, code)


class _Paired:
    """The paired notebook as it is written: each cell that mentions a check is
    followed by a cell expecting the verdict of the part it belongs to."""

    def __init__(self) -> None:
        self.cells: list[dict[str, Any]] = []
        self.status, self.what = RIGHT, "the source"

    def expect(self, status: str, what: str) -> None:
        self.status, self.what = status, what

    def add(self, cell: dict[str, Any]) -> None:
        self.cells.append(cell)
        if cell["cell_type"] == "code" and "check" in cell_text(cell):
            self.cells.append(
                expect_cell(f"expect-{cell['id']}", self.status, self.what)
            )


def paired_notebook(
    source: dict[str, Any], folder: Path | None = None
) -> dict[str, Any]:
    """Return the notebook the test run executes for a source: before each answer,
    the learner's copy of that stretch (the stub, and the cells that use it, whose
    checks must say "not attempted"), then the source's stretch (checks must say
    "right"). ``folder``: where the kernel should run (the source's folder)."""
    cells, out, start = source["cells"], _Paired(), 0
    if folder is not None:
        where = f"import os as _os\n_os.chdir({str(folder)!r})"
        out.cells.append(_test_cell("test-run-folder", f"{_FOLDER_NOTE}\n{where}"))
    while start < len(cells):
        cell = cells[start]
        if cell["cell_type"] != "code" or not regions(cell_text(cell)):
            shared = in_learner_copy(cell)
            out.add(copy.deepcopy(cell) if shared else _paired(cell, "source"))
            start += 1
            continue
        roles = learner_span(cells, start)
        answers = [k for k, role in roles.items() if role == "answer"]
        exercises = (ex for k in answers for ex, *_ in regions(cell_text(cells[k])))
        label = ", ".join(dict.fromkeys(exercises))
        out.expect(NOT_ATTEMPTED, f"the learner's copy of {label}")
        for k, role in roles.items():
            if role == "once":
                out.add(copy.deepcopy(cells[k]))
            elif role != "source":
                learner = _paired(cells[k], "learner", f"{cells[k]['id']}-learner")
                learner["source"] = source_lines(clear_solutions(cell_text(learner)))
                out.add(learner)
        out.expect(RIGHT, f"the answers of {label}")
        for k in (k for k, role in roles.items() if role != "once"):
            out.add(_paired(cells[k], "source"))
        out.expect(RIGHT, "the source")
        start = max(roles) + 1
    # a check called from a cell that does not name one is caught here
    out.cells.append(expect_cell("expect-end", out.status, out.what))
    return {**copy.deepcopy(source), "cells": out.cells}


_FOLDER_NOTE = (
    "# test run: the kernel runs in the source's folder, as Jupyter starts it"
)


class PairedNotebook(IPyNbFile):
    """nbval's notebook file, reading the paired notebook; its kernel starts with a
    scratch progress file of its own."""

    def setup(self) -> None:
        scratch = self.path.with_suffix(".progress.json")
        before = os.environ.get(envvars.PROGRESS)
        os.environ[envvars.PROGRESS] = str(scratch)
        try:
            super().setup()  # the kernel inherits the environment as it starts
        finally:
            if before is None:
                os.environ.pop(envvars.PROGRESS, None)
            else:
                os.environ[envvars.PROGRESS] = before


class SourceNotebook(pytest.File):
    """A source notebook: collected as its paired notebook, written to a scratch
    folder (``notebooks/NN_name.ipynb::paired::Cell N``)."""

    def collect(self):
        notebook = json.loads(self.path.read_text(encoding="utf-8"))
        folder = Path(tempfile.mkdtemp(prefix="vlesson-paired-"))
        paired = folder / self.path.name
        paired.write_text(dumps(paired_notebook(notebook, self.path.parent)), "utf-8")
        yield PairedNotebook.from_parent(
            self, path=paired, name="paired", nodeid=f"{self.nodeid}::paired"
        )


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    """Collect a source notebook as its paired notebook, where nbval (--nbval-lax)
    collects the notebook itself."""
    collected = yield
    if not any(isinstance(c, IPyNbFile) for c in collected):
        return collected
    source = SourceNotebook.from_parent(parent, path=file_path)
    source.add_marker(pytest.mark.engine)  # every cell of it: -m "not engine" skips
    return [source]
