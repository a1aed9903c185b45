"""Run the ``vlesson`` command as a user does, in a fresh process."""

from __future__ import annotations

import os
import subprocess
import sys
import time


def vlesson(*args: str, **env: str) -> tuple[int, str, float]:
    """Return (exit code, stderr, seconds) of ``python -m vlesson ARGS``."""
    start = time.monotonic()
    result = subprocess.run(
        [sys.executable, "-m", "vlesson", *args],
        capture_output=True,
        text=True,
        env={**os.environ, **env},
        timeout=120,
        check=False,
    )
    return result.returncode, result.stderr, time.monotonic() - start
