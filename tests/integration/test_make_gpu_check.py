"""`make gpu-check`, as the README gives it, on a machine without an NVIDIA GPU."""

from __future__ import annotations

import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def test_make_gpu_check_without_a_gpu_says_so_and_fails():
    torch = pytest.importorskip("torch")
    if torch.cuda.is_available():
        pytest.skip("a CUDA GPU is here: `make gpu-check` runs the whole course on it")
    result = subprocess.run(
        ["make", "gpu-check"],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode != 0
    assert "gpu-check: no CUDA GPU is visible to torch" in result.stderr
    assert "pytest" not in result.stdout  # stopped before any test or notebook ran
