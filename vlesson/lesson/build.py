"""Build the learner's notebooks from the sources in ``notebooks/`` (nbgrader's idea).

A source notebook holds the lesson and its answers:

- a code cell may hold solution regions, nbgrader's markers with the exercise id::

      def load_config(path):
          ### BEGIN SOLUTION 2.7
          ...reference answer...
          ### END SOLUTION

  The learner's copy gets the stub instead: ``raise NotImplementedError`` inside a
  function (indented region), or ``NAME = ...`` for each name a top-level region
  assigns. A check receiving either says "not attempted".
- a markdown cell tagged ``solution:ID`` is the worked answer / discussion of ID: left
  out of the learner's copy, shown by ``vl.solution(ID)``;
- a code cell tagged ``test`` holds the assertions the test run makes (nbval): left
  out of the learner's copy.

The build keeps cell ids, drops outputs and writes sorted JSON, so building twice
gives identical bytes. It never overwrites a learner's notebook (``build_missing``);
``reset`` keeps the old copy beside the fresh one.
"""

from __future__ import annotations

import ast
import copy
import datetime as dt
import json
import os
import re
import textwrap
from pathlib import Path
from typing import Any

from vlesson import envvars, files, paths

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
SOLUTION_TAG = "solution:"
TEST_TAG = "test"
STUB_COMMENT = "# YOUR CODE HERE"
LEARNER_DIR = "my-notebooks"
"""The learner's copies, inside the checkout (gitignored); ``make lab`` opens it."""

_ASSIGNED = re.compile(r"^([A-Za-z_]\w*)\s*=(?!=)")
_BEGIN_LINE = re.compile(r"^(\s*)### BEGIN SOLUTION\s*(\S*)\s*$")


class SourceError(ValueError):
    """A source notebook whose markers do not pair up."""


def source_dir() -> Path:
    """Return the folder of the source notebooks (the checkout's ``notebooks/``)."""
    return paths.project_file("notebooks")


def learner_dir() -> Path:
    """Return the folder of the learner's copies (``my-notebooks/`` in the checkout)."""
    return paths.PROJECT_ROOT / LEARNER_DIR


def _text(cell: dict[str, Any]) -> str:
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def _tags(cell: dict[str, Any]) -> list[str]:
    return list(cell.get("metadata", {}).get("tags", []))


def regions(code: str) -> list[tuple[str, str, str]]:
    """Return (exercise id, indent, region code) for each solution region of a cell."""
    found, current, lines = [], None, []
    for number, line in enumerate(code.splitlines(), 1):
        begin = _BEGIN_LINE.match(line)
        if begin:
            if current is not None:
                raise SourceError(f"line {number}: {BEGIN} inside another region")
            if not begin.group(2):
                raise SourceError(f"line {number}: {BEGIN} needs the exercise id")
            current, lines = (begin.group(2), begin.group(1)), []
        elif line.strip() == END:
            if current is None:
                raise SourceError(f"line {number}: {END} without {BEGIN}")
            found.append((current[0], current[1], "\n".join(lines)))
            current = None
        elif current is not None:
            lines.append(line)
    if current is not None:
        raise SourceError(f"{BEGIN} {current[0]} is never closed by {END}")
    return found


def bound_names(code: str) -> list[str]:
    """Return the names a cell binds at top level (assignments, functions, classes),
    in order; IPython syntax (``log = !cmd``) is read line by line."""
    try:
        tree = ast.parse(textwrap.dedent(code))
    except SyntaxError:
        found = (_ASSIGNED.match(line) for line in code.splitlines())
        return list(dict.fromkeys(m.group(1) for m in found if m))
    names: list[str] = []
    for node in tree.body:
        targets = node.targets if isinstance(node, ast.Assign) else []
        if isinstance(node, (ast.AnnAssign, ast.AugAssign)):
            targets = [node.target]
        if isinstance(node, (ast.FunctionDef, ast.AsyncFunctionDef, ast.ClassDef)):
            names.append(node.name)
        for target in targets:
            names.extend(n.id for n in ast.walk(target) if isinstance(n, ast.Name))
    return list(dict.fromkeys(names))


def stub(indent: str, region: str) -> list[str]:
    """Return the lines that replace one solution region in the learner's copy."""
    if indent:
        return [indent + STUB_COMMENT, indent + "raise NotImplementedError"]
    return [STUB_COMMENT, *(f"{name} = ..." for name in bound_names(region))]


def clear_solutions(code: str) -> str:
    """Replace every solution region of a code cell by its stub."""
    out, spans = [], iter(regions(code))
    skipping = False
    for line in code.splitlines():
        if _BEGIN_LINE.match(line):
            _, indent, region = next(spans)
            out.extend(stub(indent, region))
            skipping = True
        elif skipping and line.strip() == END:
            skipping = False
        elif not skipping:
            out.append(line)
    return "\n".join(out)


def _source_lines(text: str) -> list[str]:
    """Split as Jupyter stores cell sources: lines keeping their newline."""
    return text.splitlines(keepends=True)


def _in_learner_copy(cell: dict[str, Any]) -> bool:
    """Whether the learner's copy keeps the cell (not test and solution cells)."""
    tags = _tags(cell)
    return TEST_TAG not in tags and not any(t.startswith(SOLUTION_TAG) for t in tags)


def learner_notebook(source: dict[str, Any]) -> dict[str, Any]:
    """Return the learner's copy of a source notebook (a new dict)."""
    notebook = copy.deepcopy(source)
    cells = []
    for cell in notebook["cells"]:
        if not _in_learner_copy(cell):
            continue
        if cell["cell_type"] == "code":
            cell["source"] = _source_lines(clear_solutions(_text(cell)))
            cell["outputs"], cell["execution_count"] = [], None
        cell.get("metadata", {}).pop("jupyter", None)  # no hidden sources
        cells.append(cell)
    notebook["cells"] = cells
    return notebook


CHECK_CALL = "vl.check."
"""What a check cell calls; the first one after an answer grades it."""


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


def _learner_span(cells: list[dict[str, Any]], start: int) -> dict[int, str]:
    """Return the roles of the cells from the answer cell at start to the last cell
    that uses what it defines (or its first check): "answer", "uses" (runs with the
    stub, then again with the answer), "source" (test and solution cells: not in the
    learner's copy), and "once" (does not use it: runs once)."""
    names = set(bound_names(_text(cells[start])))
    later = [
        k for k in range(start + 1, len(cells))
        if cells[k]["cell_type"] == "code" and _in_learner_copy(cells[k])
    ]  # fmt: skip
    roles, checked = {start: "answer"}, False
    for k in later:
        code = _text(cells[k])
        answer = bool(regions(code))
        if answer and checked and not _mentions(code, names):
            if not any(_mentions(_text(cells[m]), names) for m in later if m > k):
                break  # the next exercise: nothing after it uses this one
        if answer or _mentions(code, names) or (CHECK_CALL in code and not checked):
            roles[k] = "answer" if answer else "uses"
            checked = checked or CHECK_CALL in code
            names.update(bound_names(code))
    for k in range(start, max(roles) + 1):
        source_only = cells[k]["cell_type"] == "code" and not _in_learner_copy(cells[k])
        roles.setdefault(k, "source" if source_only else "once")
    return dict(sorted(roles.items()))


PAIRED_KEY = "vlesson-test-run"
"""Cell metadata of the paired notebook: "learner" (the learner's copy of a stretch),
"source" (the source's) or "expect" (sets the verdict the checks that follow must
give); cells without it belong to both notebooks and run once."""


def _paired(cell: dict[str, Any], part: str, cell_id: str = "") -> dict[str, Any]:
    cell = copy.deepcopy(cell)
    cell["metadata"] = {**cell.get("metadata", {}), PAIRED_KEY: part}
    if cell_id:
        cell["id"] = cell_id
    return cell


def _expect(cell_id: str, status: str, comment: str) -> dict[str, Any]:
    source = _source_lines(f"# {comment}\n%env {envvars.EXPECT_CHECKS}={status}")
    cell = {"cell_type": "code", "id": cell_id, "source": source, "outputs": []}
    return _paired({**cell, "execution_count": None, "metadata": {}}, "expect")


def paired_notebook(source: dict[str, Any]) -> dict[str, Any]:
    """Return the notebook the test run executes for a source: before each answer,
    the learner's copy of that stretch (the stub, and the cells that use it, whose
    checks must say "not attempted"), then the source's stretch (checks must say
    "right"). Cells that do not use the answer run once, so one run of this notebook
    tests both the learner's copy and the source for the price of about one."""
    cells, out, start = source["cells"], [], 0
    while start < len(cells):
        cell = cells[start]
        if cell["cell_type"] != "code" or not regions(_text(cell)):
            shared = _in_learner_copy(cell)
            out.append(copy.deepcopy(cell) if shared else _paired(cell, "source"))
            start += 1
            continue
        roles = _learner_span(cells, start)
        answers = [k for k, role in roles.items() if role == "answer"]
        exercises = (ex for k in answers for ex, *_ in regions(_text(cells[k])))
        label = ", ".join(dict.fromkeys(exercises))
        out.append(_expect(f"learner-{cell['id']}", "not attempted",
                           f"test run: the learner's copy of {label}"))  # fmt: skip
        for k, role in roles.items():
            if role == "once":
                out.append(copy.deepcopy(cells[k]))
            elif role != "source":
                learner = _paired(cells[k], "learner", f"{cells[k]['id']}-learner")
                learner["source"] = _source_lines(clear_solutions(_text(learner)))
                out.append(learner)
        out.append(_expect(f"answer-{cell['id']}", "right",
                           f"test run: the answers of {label}"))  # fmt: skip
        out.extend(_paired(cells[k], "source") for k, r in roles.items() if r != "once")
        start = max(roles) + 1
    return {**copy.deepcopy(source), "cells": out}


def solution_parts(source: dict[str, Any], exercise: str) -> list[str]:
    """Return the worked answer of one exercise as Markdown parts, in cell order."""
    parts = []
    for cell in source["cells"]:
        text = _text(cell)
        if f"{SOLUTION_TAG}{exercise}" in _tags(cell):
            code = cell["cell_type"] == "code"
            parts.append(f"```python\n{text}\n```" if code else text)
        elif cell["cell_type"] == "code" and any(
            r[0] == exercise for r in regions(text)
        ):
            shown = [ln for ln in text.splitlines() if not _is_marker(ln)]
            parts.append("```python\n" + "\n".join(shown) + "\n```")
    return parts


def _is_marker(line: str) -> bool:
    return bool(_BEGIN_LINE.match(line)) or line.strip() == END


def dumps(notebook: dict[str, Any]) -> str:
    """Serialise as Jupyter does (indent 1, sorted keys), so builds are byte-stable."""
    return json.dumps(notebook, indent=1, sort_keys=True, ensure_ascii=False) + "\n"


def build_one(source: Path, dest: Path) -> Path:
    """Write the learner's copy of one source notebook to dest (overwriting it)."""
    notebook = json.loads(source.read_text(encoding="utf-8"))
    files.write_atomic(dest, dumps(learner_notebook(notebook)))
    return dest


def build_missing(
    src: Path | None = None, dest: Path | None = None, names: list[str] | None = None
) -> list[Path]:
    """Build the learner's copies that are missing; never touch an existing one."""
    src, dest = src or source_dir(), dest or learner_dir()
    built = []
    for source in sorted(src.glob("[0-9][0-9]_*.ipynb")):
        if names and not any(source.name.startswith(n) for n in names):
            continue
        target = dest / source.name
        if not target.exists():
            built.append(build_one(source, target))
    return built


def find_source(name: str, src: Path | None = None) -> Path:
    """Return the source notebook named by its number or name ("01", "01_param...")."""
    src = src or source_dir()
    matches = sorted(p for p in src.glob("*.ipynb") if p.name.startswith(name))
    if len(matches) != 1:
        known = ", ".join(p.stem for p in sorted(src.glob("[0-9][0-9]_*.ipynb")))
        raise FileNotFoundError(f"no single notebook {name!r}; there are: {known}")
    return matches[0]


def reset(
    name: str, src: Path | None = None, dest: Path | None = None
) -> tuple[Path, Path | None]:
    """Give the learner a fresh copy of one notebook; the old one is kept, renamed.

    Returns (fresh copy, where the old one went, or None if there was none).
    """
    source = find_source(name, src)
    dest = dest or learner_dir()
    target = dest / source.name
    kept = _keep_aside(target) if target.exists() else None
    return build_one(source, target), kept


def _keep_aside(target: Path) -> Path:
    """Rename ``target`` to ``NAME.old-DATE[-N].ipynb``, a name no file has: a kept
    copy is never overwritten (two resets in one second, ``reset 01 01``)."""
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    for number in range(1, 10_000):
        extra = "" if number == 1 else f"-{number}"
        kept = target.with_name(f"{target.stem}.old-{stamp}{extra}.ipynb")
        try:
            os.link(target, kept)  # fails if the name is taken, even by a racer
        except FileExistsError:
            continue
        except OSError:  # a file system without hard links
            if kept.exists():
                continue
            target.rename(kept)
            return kept
        target.unlink()
        return kept
    raise FileExistsError(f"no free name to keep {target} aside")
