"""``vlesson classroom-server``: vLLM's own OpenAI-compatible server for a class."""

from __future__ import annotations

import argparse
import os
import shlex
import sys
from collections.abc import Sequence

DESCRIPTION = """Start vLLM's OpenAI-compatible server with the offline model (or
--model) and vlesson's engine defaults, for a whole class: learners then set
VLESSON_SERVER=http://THIS-HOST:PORT/v1 and every notebook, slider and command uses it.
Any other option goes to vLLM's server unchanged, e.g. --tensor-parallel-size 4 on a
machine with four GPUs, or --max-num-seqs 64."""


def build_parser(prog: str = "vlesson classroom-server") -> argparse.ArgumentParser:
    """Return the parser of the few options vlesson sets; the rest go to vLLM."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    parser.add_argument(
        "--model",
        default=None,
        help="Offline short name, folder or hub id (default smollm2-135m-instruct); "
        "learners see it under this name.",
    )
    parser.add_argument(
        "--host",
        default="0.0.0.0",
        help="Address to listen on (default 0.0.0.0: the network).",
    )
    parser.add_argument("--port", type=int, default=8000, help="Default 8000.")
    parser.add_argument(
        "--api-key",
        default=None,
        help="Require this key from learners (default $VLESSON_SERVER_API_KEY; none: open).",
    )
    parser.add_argument(
        "--dry-run",
        action="store_true",
        help="Print the command line and start nothing.",
    )
    return parser


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse vlesson's options; keep the others for vLLM."""
    args, extra = parser.parse_known_args(argv)
    args.extra = extra
    return args


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Print the server command line, then become that server."""
    from vlesson import classroom, remote

    api_key = args.api_key or os.environ.get(remote.API_KEY_ENV) or None
    command = classroom.server_command(
        args.model, host=args.host, port=args.port, api_key=api_key, extra=args.extra
    )
    shown = [("***" if api_key and part == api_key else part) for part in command]
    print(shlex.join(shown))
    host = "THIS-HOST" if args.host in ("0.0.0.0", "::") else args.host
    print(f"learners: export {remote.SERVER_ENV}=http://{host}:{args.port}/v1")
    if args.dry_run:
        return 0
    sys.stdout.flush()
    os.execve(command[0], command, classroom.server_environment())
    return 1  # not reached: execv replaces this process
