"""A child process with a deadline, ended with everything it started."""

from __future__ import annotations

import contextlib
import os
import signal
import subprocess
from collections.abc import Mapping, Sequence


def run_with_deadline(
    argv: Sequence[str], deadline: float, env: Mapping[str, str] | None = None
) -> tuple[int, str] | None:
    """Run ``argv`` in a session of its own; return (exit code, stdout and stderr), or
    None when it did not end within ``deadline`` seconds. Either way its process group
    is killed after (an engine core it started would otherwise live on)."""
    child = subprocess.Popen(
        list(argv), env=None if env is None else dict(env), text=True,
        stdout=subprocess.PIPE, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        out, _ = child.communicate(timeout=deadline)
    except subprocess.TimeoutExpired:
        out = None
    finally:
        with contextlib.suppress(ProcessLookupError):
            os.killpg(child.pid, signal.SIGKILL)
    if out is None:
        child.communicate()  # reap it
        return None
    return child.returncode, out
