"""nbval runs each source notebook paired with its learner's copy (one kernel, one
engine): before each answer, the learner's stub and the cells that use it run, and
their checks must say "not attempted"; then the answer and those cells again, and
every check must say "right" (``build.paired_notebook``). A check that says anything
else fails its cell. Progress goes to a scratch file, not the learner's."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path

import pytest
from _pytest.compat import legacy_path
from nbval.plugin import IPyNbFile

from vlesson import envvars
from vlesson.exercises import build

os.environ.setdefault(envvars.EXPECT_CHECKS, "right")
os.environ.setdefault(
    envvars.PROGRESS, str(Path(tempfile.mkdtemp(prefix="vlesson-nbval-")) / "p.json")
)
PAIRED_DIR = Path(tempfile.mkdtemp(prefix="vlesson-paired-"))
SOURCES = Path(__file__).parent


class PairedNotebook(IPyNbFile):
    """nbval's notebook file, reading the paired notebook built from the source."""

    @property
    def fspath(self):  # nbval reads the notebook and starts the kernel from here
        paired = PAIRED_DIR / self.path.name
        if not paired.exists():
            source = json.loads(self.path.read_text(encoding="utf-8"))
            paired.write_text(build.dumps(build.paired_notebook(source)), "utf-8")
        return legacy_path(paired)


@pytest.hookimpl(wrapper=True)
def pytest_collect_file(file_path: Path, parent: pytest.Collector):
    collected = yield
    if file_path.parent == SOURCES and any(isinstance(c, IPyNbFile) for c in collected):
        paired = PairedNotebook.from_parent(parent, path=file_path)
        paired.add_marker(pytest.mark.engine)  # every cell of it: -m "not engine" skips
        return [paired]
    return collected
