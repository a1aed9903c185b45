"""One server in a subprocess: start it on a free port, wait for /health, stop it.

``vlesson serve`` (``vlesson.serving.server.start_server``) and the classroom's vLLM
server (``vlesson.serving.classroom.running_server``) both run as a ``ServerProcess``,
so the caller's process never loads a second engine: the server holds it.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Self

LOOPBACK = "127.0.0.1"


def is_loopback(host: str) -> bool:
    """Return True for an address only this machine reaches (127.x, ::1, localhost)."""
    import ipaddress

    if host == "localhost":
        return True
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return False


def free_port(host: str = LOOPBACK) -> int:
    """Return a TCP port that is free on ``host`` right now."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@dataclass
class ServerProcess:
    """A running server subprocess; use it as a context manager."""

    process: subprocess.Popen
    port: int
    api_key: str | None
    log_path: Path
    host: str = LOOPBACK
    start_seconds: float = field(default=0.0)
    """From launching the command to the first healthy /health answer."""
    name: str = "vlesson serve"
    """What the messages call it."""
    keep_log: bool = False
    """Keep the log file after ``stop`` (a log the caller named); a temporary one goes."""

    @classmethod
    def start(
        cls,
        command: Sequence[str],
        *,
        port: int,
        host: str = LOOPBACK,
        api_key: str | None = None,
        env: Mapping[str, str] | None = None,
        log_path: Path | None = None,
        name: str = "vlesson serve",
        timeout: float = 300,
    ) -> ServerProcess:
        """Run ``command`` with its output in ``log_path`` (default: a temporary
        file); return once ``/health`` answers 200. On failure the process is killed
        and the error carries the end of its log."""
        keep_log = log_path is not None
        if log_path is None:
            handle, temp = tempfile.mkstemp(prefix="vlesson-serve-", suffix=".log")
            os.close(handle)
            log_path = Path(temp)
        start = time.perf_counter()
        with open(log_path, "w") as log:
            process = subprocess.Popen(
                list(command),
                stdout=log,
                stderr=subprocess.STDOUT,
                env=dict(env) if env is not None else None,
            )
        server = cls(
            process, port, api_key, Path(log_path), host, name=name, keep_log=keep_log
        )
        try:
            server.wait_healthy(timeout)
        except BaseException:
            server.process.kill()
            server.process.wait()
            if not keep_log:  # its tail is in the error message
                server.log_path.unlink(missing_ok=True)
            raise
        server.start_seconds = time.perf_counter() - start
        return server

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

    def wait_healthy(self, timeout: float) -> None:
        """Wait until ``/health`` answers 200; RuntimeError if the process exits,
        TimeoutError after ``timeout`` seconds (both with the end of its log)."""
        import httpx

        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if not self.running():
                raise RuntimeError(
                    f"{self.name} exited with code {self.process.returncode}:\n"
                    f"{self.log()}"
                )
            try:
                if httpx.get(self.url + "/health", timeout=5).status_code == 200:
                    return
            except httpx.TransportError:
                pass  # not listening yet: the engine loads before the server binds
            time.sleep(0.5)
        raise TimeoutError(
            f"{self.name} did not answer /health within {timeout:.0f} s:\n{self.log()}"
        )

    def stop(self, timeout: float = 60) -> int | None:
        """Stop the server (SIGINT, like Ctrl-C, then SIGKILL) and return its exit code."""
        if self.running():
            self.process.send_signal(signal.SIGINT)
            try:
                self.process.wait(timeout)
            except subprocess.TimeoutExpired:
                self.process.kill()
                self.process.wait()
        if not self.keep_log:
            self.log_path.unlink(missing_ok=True)
        return self.process.returncode

    def __enter__(self) -> Self:
        return self

    def __exit__(self, *exc_info: object) -> None:
        self.stop()

    def __repr__(self) -> str:
        state = "running" if self.running() else f"exited {self.process.returncode}"
        return f"ServerProcess({self.url}, {state})"
