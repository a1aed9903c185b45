"""The learner's copies, built fresh, run top to bottom under nbval (as `make test`
runs the sources): nothing errors and every check says "not attempted" (a check that
says anything else fails its cell, through $VLESSON_EXPECT_CHECKS)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from vlesson import envvars
from vlesson.lesson import build

ROOT = Path(__file__).resolve().parents[2]
SOURCES = sorted((ROOT / "notebooks").glob("[0-9][0-9]_*.ipynb"))

pytestmark = [pytest.mark.engine, pytest.mark.whole_notebook_run]


@pytest.mark.parametrize("source", SOURCES, ids=lambda p: p.stem)
def test_learner_copy_runs_and_every_check_is_not_attempted(source, tmp_path):
    copy = build.build_one(source, tmp_path / source.name)
    env = {
        **os.environ,
        envvars.EXPECT_CHECKS: "not attempted",
        envvars.PROGRESS: str(tmp_path / "progress.json"),
        "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")]),
    }
    command = [
        sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider",
        "--nbval-lax", "--nbval-current-env", "--nbval-cell-timeout=900", str(copy),
    ]  # fmt: skip
    start = time.perf_counter()
    result = subprocess.run(
        command, cwd=tmp_path, env=env, capture_output=True, text=True, check=False
    )
    seconds = time.perf_counter() - start
    assert result.returncode == 0, result.stdout[-4000:] + result.stderr[-2000:]
    print(f"{source.name}: learner copy ran in {seconds:.0f} s")
    # nothing was recorded as tried or passed: the stubs were untouched
    assert not (tmp_path / "progress.json").exists()
