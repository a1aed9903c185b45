"""Run ``vlesson serve`` in a subprocess on a free loopback port, and stop it again.

Tests, benchmarks and the web API notebook all start the server this way, so the
caller's process never loads a second engine: the server holds it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

LOOPBACK = "127.0.0.1"


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class Server:
    """A running ``vlesson serve`` subprocess; use it as a context manager."""

    process: subprocess.Popen
    port: int
    api_key: str | None
    log_path: Path
    host: str = LOOPBACK
    start_seconds: float = field(default=0.0)
    """From launching the command to the first healthy /health answer."""

    @property
    def url(self) -> str:
        """Base URL, e.g. ``http://127.0.0.1:8123``."""
        return f"http://{self.host}:{self.port}"

    @property
    def headers(self) -> dict[str, str]:
        """The Authorization header for the API key (empty without a key)."""
        return {"Authorization": f"Bearer {self.api_key}"} if self.api_key else {}

    def client(self, **kwargs: Any):
        """Return an ``httpx.Client`` for this server, with the key already set."""
        import httpx

        kwargs.setdefault("timeout", 300)
        return httpx.Client(base_url=self.url, headers=self.headers, **kwargs)

    def log(self, last: int = 4000) -> str:
        """Return the end of the server's output (uvicorn and vLLM messages)."""
        try:
            return self.log_path.read_text(errors="replace")[-last:]
        except OSError:
            return ""

    def running(self) -> bool:
        """Return True while the server process is alive."""
        return self.process.poll() is None

    def stop(self, timeout: float = 60) -> int | None:
        """Stop the server (SIGINT, like Ctrl-C, then SIGKILL) and return its exit code."""
        if self.running():
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        self.log_path.unlink(missing_ok=True)
        return self.process.returncode

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running() else f"exited {self.process.returncode}"
        return f"Server({self.url}, {state})"


def start_server(
    model: str | None = None,
    *,
    port: int | None = None,
    api_key: str | None = None,
    args: Sequence[str] = (),
    timeout: float = 300,
) -> Server:
    """Start ``python -m vlesson serve`` on a free loopback port; return once healthy.

    Args:
        api_key: handed to the server in $VLESSON_API_KEY (never on the command line,
            where other users could read it).
        args: more ``vlesson serve`` options, e.g. ``["--limit-max-tokens", "64"]``.
        timeout: seconds to wait for /health before giving up.
    """
    from vlesson.api import API_KEY_ENV

    port = port or free_port()
    cmd = [sys.executable, "-m", "vlesson", "serve", "--port", str(port), *args]
    if model:
        cmd += ["--model", model]
    env = {k: v for k, v in os.environ.items() if k != API_KEY_ENV}
    if api_key:
        env[API_KEY_ENV] = api_key
    handle, name = tempfile.mkstemp(prefix="vlesson-serve-", suffix=".log")
    start = time.perf_counter()
    with os.fdopen(handle, "w") as log:
        process = subprocess.Popen(cmd, stdout=log, stderr=subprocess.STDOUT, env=env)
    server = Server(process, port, api_key, Path(name))
    try:
        _wait_healthy(server, timeout)
    except BaseException:
        server.process.kill()
        server.process.wait()
        server.log_path.unlink(missing_ok=True)  # its tail is in the error message
        raise
    server.start_seconds = time.perf_counter() - start
    return server


def _wait_healthy(server: Server, timeout: float) -> None:
    import httpx

    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if not server.running():
            raise RuntimeError(
                f"vlesson serve exited with code {server.process.returncode}:\n"
                f"{server.log()}"
            )
        try:
            if httpx.get(server.url + "/health", timeout=5).status_code == 200:
                return
        except httpx.TransportError:
            pass  # not listening yet: the engine loads before uvicorn binds
        time.sleep(0.5)
    raise TimeoutError(
        f"vlesson serve did not answer /health within {timeout:.0f} s:\n{server.log()}"
    )
