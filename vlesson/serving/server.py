"""Run ``vlesson serve`` in a subprocess on a free loopback port, and stop it again.

Tests, benchmarks and the web API notebook all start the server this way, so the
caller's process never loads a second engine: the server holds it.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence
from pathlib import Path

from vlesson import envvars
from vlesson.serving.process import LOOPBACK, ServerProcess, free_port

__all__ = ["LOOPBACK", "Server", "free_port", "start_server"]

Server = ServerProcess
"""A running ``vlesson serve``: the one ``ServerProcess`` class."""


def start_server(
    model: str | None = None,
    *,
    port: int | None = None,
    api_key: str | None = None,
    args: Sequence[str] = (),
    timeout: float = 300,
) -> ServerProcess:
    """Start ``vlesson serve`` on a free loopback port; return once healthy.

    Args:
        api_key: handed to the server in $VLESSON_API_KEY (never on the command line,
            where other users could read it).
        args: more ``vlesson serve`` options, e.g. ``["--limit-max-tokens", "64"]``.
        timeout: seconds to wait for /health before giving up.
    """
    port = port or free_port()
    # The README's command, `vlesson serve`, from this interpreter's environment.
    script = Path(sys.executable).with_name("vlesson")
    command = [str(script)] if script.exists() else [sys.executable, "-m", "vlesson"]
    cmd = [*command, "serve", "--port", str(port), *args]
    if model:
        cmd += ["--model", model]
    env = {k: v for k, v in os.environ.items() if k != envvars.API_KEY}
    if api_key:
        env[envvars.API_KEY] = api_key
    return ServerProcess.start(
        cmd, port=port, api_key=api_key, env=env, timeout=timeout
    )
