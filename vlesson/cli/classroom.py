"""``vlesson classroom-server``: vLLM's own OpenAI-compatible server for a class."""

from __future__ import annotations

import argparse
import os
import secrets
import shlex
import sys
from collections.abc import Sequence

from vlesson import envvars
from vlesson.serving import classroom
from vlesson.serving.process import is_loopback

DESCRIPTION = """Start vLLM's OpenAI-compatible server with the offline model (or
--model) and vlesson's engine defaults, for a whole class: learners then set
VLESSON_SERVER=http://THIS-HOST:PORT/v1 and every notebook, slider and command uses it.
Any other option goes to vLLM's server unchanged, e.g. --tensor-parallel-size 4 on a
machine with four GPUs, or --max-num-seqs 64.

The key learners need comes from $VLESSON_SERVER_API_KEY (never the command line, which
every local user can read). Beyond loopback with no key, a new random key is made and
the lines learners paste are printed; --no-api-key runs an open server instead."""


def build_parser(prog: str = "vlesson classroom-server") -> argparse.ArgumentParser:
    """Return the parser of the few options vlesson sets; the rest go to vLLM."""
    # No abbreviations: what is not exactly vlesson's goes to vLLM (--no-api is not
    # --no-api-key).
    parser = argparse.ArgumentParser(
        prog=prog, description=DESCRIPTION, allow_abbrev=False
    )
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
        "--no-api-key",
        action="store_true",
        help="Serve beyond loopback WITHOUT a key: anyone who reaches the port may use "
        "it (default: $VLESSON_SERVER_API_KEY, or a new random key).",
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
    """Print the server command line and what learners paste, then become that server."""
    api_key = _api_key(args)
    command = classroom.server_command(
        args.model, host=args.host, port=args.port, extra=args.extra
    )
    print(shlex.join(command))
    host = "THIS-HOST" if args.host in ("0.0.0.0", "::") else args.host
    print("learners paste:")
    print(f"export {envvars.SERVER}=http://{host}:{args.port}/v1")
    if api_key is None and not is_loopback(args.host):
        print(f"WARNING: serving {args.host} WITHOUT a key (--no-api-key)")
    elif api_key is not None and args.generated_key:
        print(f"export {envvars.SERVER_API_KEY}={api_key}")
    elif api_key is not None:
        print(f"export {envvars.SERVER_API_KEY}=...  # the key you gave")
    if args.dry_run:
        return 0
    sys.stdout.flush()
    os.execve(command[0], command, classroom.server_environment(api_key))
    return 1  # not reached: execv replaces this process


def _api_key(args: argparse.Namespace) -> str | None:
    """The key from the environment; beyond loopback without one, a new random key
    (as Jupyter makes a token), unless --no-api-key says to run open."""
    given = os.environ.get(envvars.SERVER_API_KEY) or os.environ.get(
        classroom.VLLM_API_KEY
    )
    args.generated_key = False
    if args.no_api_key:
        return None
    if given or is_loopback(args.host):
        return given or None
    args.generated_key = True
    return secrets.token_urlsafe(24)
