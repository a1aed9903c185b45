"""Build the learner's notebooks from the sources in ``notebooks/`` (nbgrader's idea).

A source notebook holds the lesson and its answers:

- a code cell may hold solution regions, nbgrader's markers with the exercise id::

      def load_config(path):
          ### BEGIN SOLUTION 2.7
          ...reference answer...
          ### END SOLUTION

  The learner's copy gets the stub instead: ``raise NotImplementedError`` inside a
  function (indented region), or ``NAME = ...`` for each name a top-level region
  assigns; in a ``%%writefile`` cell (a script the learner writes) the line
  ``SCRIPT_STUB``. A check receiving any of them says "not attempted".
- a markdown cell tagged ``solution:ID`` is the worked answer / discussion of ID: left
  out of the learner's copy, shown by ``vl.solution(ID)``;
- a code cell tagged ``test`` holds the assertions the test run makes (nbval): left
  out of the learner's copy;
- a markdown cell tagged ``exercise:ID`` declares the exercise: its title, mark and
  hints (``vlesson.exercises.registry``); left out of the learner's copy.

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

from vlesson import files, paths

BEGIN = "### BEGIN SOLUTION"
END = "### END SOLUTION"
SOLUTION_TAG = "solution:"
TEST_TAG = "test"
EXERCISE_TAG = "exercise:"
STUB_COMMENT = "# YOUR CODE HERE"
CHECK_CALL = "vl.check."
"""How a notebook calls a check: ``vl.check.NAME(...)``."""
SCRIPT_STUB = 'echo "not written yet" >&2; exit 3  # replace this line'
"""The stub of a script written by a ``%%writefile`` cell (bash)."""
WRITEFILE = "%%writefile"
LEARNER_DIR = "my-notebooks"
"""The learner's copies, inside the checkout (gitignored); ``make lab`` opens it."""
SOURCE_GLOB = "[0-9][0-9]*_*.ipynb"
"""The source notebooks: ``NN_topic.ipynb``, or ``NNb_topic.ipynb`` for a notebook that
continues ``NN`` (``04b_run_log_and_cache``)."""

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


def cell_text(cell: dict[str, Any]) -> str:
    """Return a cell's source as one string (Jupyter may store a list of lines)."""
    source = cell.get("source", "")
    return "".join(source) if isinstance(source, list) else source


def tags(cell: dict[str, Any]) -> list[str]:
    """Return a cell's tags."""
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
    in order; IPython syntax (``log = !cmd``) is read line by line; a ``%%writefile``
    cell binds none."""
    if code.lstrip().startswith(WRITEFILE):
        return []
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


def stub(indent: str, region: str, *, script: bool = False) -> list[str]:
    """Return the lines that replace one solution region in the learner's copy
    (``script``: the region is in a ``%%writefile`` cell)."""
    if script:
        return [indent + STUB_COMMENT, indent + SCRIPT_STUB]
    if indent:
        return [indent + STUB_COMMENT, indent + "raise NotImplementedError"]
    return [STUB_COMMENT, *(f"{name} = ..." for name in bound_names(region))]


def clear_solutions(code: str) -> str:
    """Replace every solution region of a code cell by its stub."""
    out, spans = [], iter(regions(code))
    skipping, script = False, code.lstrip().startswith(WRITEFILE)
    for line in code.splitlines():
        if _BEGIN_LINE.match(line):
            _, indent, region = next(spans)
            out.extend(stub(indent, region, script=script))
            skipping = True
        elif skipping and line.strip() == END:
            skipping = False
        elif not skipping:
            out.append(line)
    return "\n".join(out)


def source_lines(text: str) -> list[str]:
    """Split as Jupyter stores cell sources: lines keeping their newline."""
    return text.splitlines(keepends=True)


def in_learner_copy(cell: dict[str, Any]) -> bool:
    """Whether the learner's copy keeps the cell (not test, solution and exercise
    cells: the hints come one at a time from ``vl.hint``)."""
    found = tags(cell)
    source_only = (SOLUTION_TAG, EXERCISE_TAG)
    return TEST_TAG not in found and not any(t.startswith(source_only) for t in found)


def learner_notebook(source: dict[str, Any]) -> dict[str, Any]:
    """Return the learner's copy of a source notebook (a new dict)."""
    notebook = copy.deepcopy(source)
    cells = []
    for cell in notebook["cells"]:
        if not in_learner_copy(cell):
            continue
        if cell["cell_type"] == "code":
            cell["source"] = source_lines(clear_solutions(cell_text(cell)))
            cell["outputs"], cell["execution_count"] = [], None
        cell.get("metadata", {}).pop("jupyter", None)  # no hidden sources
        cells.append(cell)
    notebook["cells"] = cells
    return notebook


def solution_parts(source: dict[str, Any], exercise: str) -> list[str]:
    """Return the worked answer of one exercise as Markdown parts, in cell order."""
    parts = []
    for cell in source["cells"]:
        text = cell_text(cell)
        if f"{SOLUTION_TAG}{exercise}" in tags(cell):
            code = cell["cell_type"] == "code"
            parts.append(f"```python\n{text}\n```" if code else text)
        elif cell["cell_type"] == "code" and any(
            r[0] == exercise for r in regions(text)
        ):
            shown = [ln for ln in text.splitlines() if not _is_marker(ln)]
            parts.append("```python\n" + "\n".join(shown) + "\n```")
    return parts


def discussion_parts(
    source: dict[str, Any], exercise: str, *, check: str = ""
) -> list[str]:
    """Return the discussion of one exercise: its ``solution:ID`` Markdown cells; with
    ``check`` (a check's name), only those between its call and the next check call,
    so a part's verdict does not give away a later part's answer."""
    parts, shown, tag = [], not check, f"{SOLUTION_TAG}{exercise}"
    for cell in source["cells"]:
        text, code = cell_text(cell), cell["cell_type"] == "code"
        if check and code and CHECK_CALL in text:
            shown = f"{CHECK_CALL}{check}(" in text
        elif not code and shown and tag in tags(cell):
            parts.append(text)
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
    for source in sorted(src.glob(SOURCE_GLOB)):
        if names and not any(source.name.startswith(n) for n in names):
            continue
        target = dest / source.name
        if not target.exists():
            built.append(build_one(source, target))
    return built


def find_source(name: str, src: Path | None = None) -> Path:
    """Return the source notebook named by its number or name ("01", "01_param...");
    "04" is 04_..., not 04b_..."""
    src = src or source_dir()
    matches = sorted(p for p in src.glob("*.ipynb") if p.name.startswith(name))
    if len(matches) > 1:
        matches = [p for p in matches if p.stem.split("_")[0] == name] or matches
    if len(matches) != 1:
        known = ", ".join(p.stem for p in sorted(src.glob(SOURCE_GLOB)))
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
