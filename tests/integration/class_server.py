"""The class server the classroom tests share: started once per test session by
``VLESSON_SERVER_API_KEY=KEY make classroom-server``, as the README tells an instructor
(on a free loopback port); conftest.py's ``server`` fixture yields its address."""

from __future__ import annotations

import os
import signal
import subprocess
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from vlesson import remote
from vlesson.serving import classroom

KEY = "class-key-123"
ROOT = Path(__file__).resolve().parents[2]

command_lines: list[str] = []
"""The command lines of the server's processes (make, the server, its engine core),
read once it answers."""


@contextmanager
def running(log_path: Path) -> Iterator[str]:
    """Start the class server, logging to ``log_path``; yield its ``/v1`` address."""
    port = classroom.free_port()
    command = ["make", "classroom-server", "SERVER_HOST=127.0.0.1", f"SERVER_PORT={port}"]
    env = {**os.environ, remote.API_KEY_ENV: KEY}
    with open(log_path, "w") as log:
        # Its own process group: make and the server it became stop together.
        process = subprocess.Popen(
            command, cwd=ROOT, stdout=log, stderr=subprocess.STDOUT, env=env,
            start_new_session=True,
        )
    try:
        classroom.wait_ready(process, f"http://127.0.0.1:{port}/health", log_path)
        command_lines.extend(_command_lines(process.pid))
        yield f"http://127.0.0.1:{port}/v1"
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait()


def _command_lines(session: int) -> list[str]:
    """The command lines of every process in ``session``, from /proc/<pid>/cmdline."""
    found = []
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            if int(stat.rsplit(")", 1)[1].split()[3]) != session:  # field 6: session
                continue
            found.append((entry / "cmdline").read_bytes().replace(b"\0", b" ").decode())
        except (OSError, ValueError, IndexError):
            continue  # gone meanwhile
    return found
