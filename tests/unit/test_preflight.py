"""scripts/preflight.sh: each missing piece is one line with its fix, before any download.

The script runs from a copy of the repository's layout in a temporary folder, with a PATH of
chosen commands only and a fake python (and df) that answer as the case needs.
"""

from __future__ import annotations

import shutil
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
TOOLS = ["bash", "dirname", "awk", "sed", "tr", "ls", "df", "make"]


def _fake(path: Path, body: str) -> Path:
    path.write_text("#!/bin/sh\n" + body)
    path.chmod(0o755)
    return path


def _python(bindir: Path, version: str, pip: bool = True) -> Path:
    # Answers setup's two questions: its version (-c ...) and whether pip works (-m pip).
    return _fake(
        bindir / "python",
        f'if [ "$1" = -m ]; then exit {0 if pip else 1}; fi\necho {version}\n',
    )


def run(
    tmp_path: Path,
    version: str = "3.11",
    *,
    pip: bool = True,
    without: tuple[str, ...] = (),
    free_gb: int | None = None,
    build: str = "cpu",
    uv: bool = False,
    python: str | None = None,
) -> subprocess.CompletedProcess:
    repo, bindir = tmp_path / "repo", tmp_path / "bin"
    (repo / "scripts").mkdir(parents=True)
    (repo / "locks").mkdir()
    bindir.mkdir()
    shutil.copy(ROOT / "scripts" / "preflight.sh", repo / "scripts")
    for name in ("cpu-py3.11.txt", "gpu-py3.11.txt", "gpu-py3.12.txt"):
        (repo / "locks" / name).write_text("")
    for tool in TOOLS:
        if tool not in without and (found := shutil.which(tool)):
            (bindir / tool).symlink_to(found)
    if free_gb is not None:
        (bindir / "df").unlink()
        kb = free_gb * 1024 * 1024
        _fake(
            bindir / "df",
            f'echo "Filesystem 1K-blocks Used Available"\necho "x 0 0 {kb}"\n',
        )
    if uv:
        _fake(bindir / "uv", "exit 0\n")
    env = {
        "PATH": str(bindir),
        "PYTHON": python or str(_python(bindir, version, pip)),
        "VLESSON_BUILD": build,
        "HOME": str(tmp_path),
    }
    return subprocess.run(
        ["/bin/bash", str(repo / "scripts" / "preflight.sh")],
        env=env,
        capture_output=True,
        text=True,
        check=False,
    )


def test_a_ready_machine_passes_silently(tmp_path):
    result = run(tmp_path, free_gb=50)
    assert (result.returncode, result.stderr) == (0, "")


@pytest.mark.parametrize("version", ["3.9", "3.10", "2.7"])
def test_an_old_python_is_refused_with_the_fix(tmp_path, version):
    result = run(tmp_path, version)
    assert result.returncode == 1
    assert f"is Python {version}, older than the 3.11" in result.stderr
    assert "make setup PYTHON=python3.11" in result.stderr
    assert len(result.stderr.splitlines()) == 1


def test_a_python_newer_than_vllm_supports_is_refused(tmp_path):
    result = run(tmp_path, "3.15")
    assert result.returncode == 1
    assert "newer than vLLM supports (3.11-3.14)" in result.stderr


def test_a_python_without_a_tested_lock_names_the_one_that_has_it(tmp_path):
    result = run(tmp_path, "3.12")
    assert result.returncode == 1
    assert (
        "no tested cpu set for Python 3.12 (locks/ has Python 3.11 )" in result.stderr
    )
    assert "make setup PYTHON=python3.11" in result.stderr
    assert run(tmp_path / "gpu", "3.12", build="gpu").returncode == 0


def test_no_python_at_all(tmp_path):
    result = run(tmp_path, python="python3.11")
    assert result.returncode == 1
    assert "no Python at PYTHON=python3.11: install Python 3.11" in result.stderr


def test_no_pip_and_no_uv_says_how_to_get_either(tmp_path):
    result = run(tmp_path, pip=False)
    assert result.returncode == 1
    assert "neither uv nor pip" in result.stderr
    assert "sudo apt install python3-pip" in result.stderr


def test_uv_on_the_path_needs_no_pip(tmp_path):
    assert run(tmp_path, pip=False, uv=True).returncode == 0


def test_too_little_disk_is_refused_before_any_download(tmp_path):
    result = run(tmp_path, free_gb=2)
    assert result.returncode == 1
    assert "only 2 GB free" in result.stderr
    assert "make setup VENV=" in result.stderr


def test_no_make_says_how_to_install_it(tmp_path):
    result = run(tmp_path, without=("make",))
    assert result.returncode == 1
    assert "no 'make' command: install it (Debian/Ubuntu: sudo apt install make" in (
        result.stderr
    )


def test_every_problem_is_reported_at_once_one_line_each(tmp_path):
    result = run(tmp_path, "3.10", pip=False, without=("make",), free_gb=1)
    assert result.returncode == 1
    assert len(result.stderr.splitlines()) == 4, result.stderr
