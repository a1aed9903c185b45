"""``vlesson serve``: the web API (exercise 2.13) on uvicorn, one warm engine."""

from __future__ import annotations

import argparse
import dataclasses
import os
import secrets
import sys

from vlesson import settings
from vlesson.cli import arguments
from vlesson.compat import flexible_argument_parser
from vlesson.envvars import API_KEY as API_KEY_ENV
from vlesson.models import DEFAULT_MODEL
from vlesson.serving.api import Limits, create_app
from vlesson.serving.process import is_loopback

DESCRIPTION = """Serve the model over HTTP with vLLM's asynchronous engine: POST /generate,
GET /health, GET /models; the OpenAPI page is at /docs. The model loads once at start-up,
and requests arriving together are batched by vLLM. Engine options are vLLM's own; on a
CPU vlesson adds the same defaults as `vlesson generate`."""


def build_parser(prog: str = "vlesson serve") -> argparse.ArgumentParser:
    """Return the parser: server options, request limits, every EngineArgs option."""
    # No abbreviations: `--api-key` (refused) must never be read as --api-key-env.
    parser = flexible_argument_parser()(
        prog=prog, description=DESCRIPTION, allow_abbrev=False
    )
    server = parser.add_argument_group("Server")
    server.add_argument(
        "--host",
        default="127.0.0.1",
        help="Address to bind (default 127.0.0.1: this machine only).",
    )
    server.add_argument(
        "--port", type=int, default=8000, help="TCP port (default 8000)."
    )
    server.add_argument(
        "--api-key-env",
        default=API_KEY_ENV,
        metavar="NAME",
        help=f"Read the API key from this environment variable (default {API_KEY_ENV}); "
        "when it is set, every route but /health needs 'Authorization: Bearer KEY'.",
    )
    server.add_argument(
        "--no-api-key",
        action="store_true",
        help="Serve beyond loopback WITHOUT a key (default there: the key in the "
        "variable, or a new random key printed at start).",
    )
    server.add_argument(
        "--uvicorn-log-level",
        default="warning",
        choices=["critical", "error", "warning", "info", "debug"],
        help="uvicorn's log level (info also logs every request).",
    )
    limits = parser.add_argument_group("Request limits")
    for spec in dataclasses.fields(Limits):
        limits.add_argument(
            "--limit-" + spec.name.replace("_", "-"),
            dest="limit_" + spec.name,
            type=int,
            default=spec.default,
            metavar="N",
            help=f"{spec.metadata['help']} Default {spec.default}.",
        )
    settings.add_engine_args(parser)
    return parser


OWN_OPTIONS = (
    "host",
    "port",
    "api_key_env",
    "no_api_key",
    "uvicorn_log_level",
    *("limit_" + f.name for f in dataclasses.fields(Limits)),
)


parse = arguments.parse_command_line


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Check the options, then serve until interrupted."""
    import uvicorn

    limits = Limits(
        **{f.name: getattr(args, "limit_" + f.name) for f in dataclasses.fields(Limits)}
    )
    if min(vars(limits).values()) < 1:
        raise settings.UsageError(f"request limits must be at least 1, got {limits}")
    api_key = server_key(args)
    engine_args, _ = settings.split_args(parser, args, OWN_OPTIONS)
    app = create_app(api_key=api_key, limits=limits, **engine_args)
    key_note = f"API key from ${args.api_key_env}" if api_key else "no API key"
    print(
        f"vlesson serve: loading {engine_args['model'] or DEFAULT_MODEL}, then serving on "
        f"http://{args.host}:{args.port} (docs at /docs, {key_note})",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.uvicorn_log_level)
    return 0


def server_key(args: argparse.Namespace) -> str | None:
    """The key from ``--api-key-env``'s variable; beyond loopback without one, a new
    random key, printed once (as Jupyter's token), unless --no-api-key."""
    api_key = os.environ.get(args.api_key_env) or None
    if api_key or is_loopback(args.host):
        return api_key
    if args.no_api_key:
        print(
            f"vlesson serve: WARNING: {args.host} is reachable from other machines "
            "and runs WITHOUT a key (--no-api-key)",
            file=sys.stderr,
        )
        return None
    api_key = secrets.token_urlsafe(24)
    print(
        f"vlesson serve: {args.host} is reachable from other machines and "
        f"${args.api_key_env} is not set: clients send this run's key,\n"
        f"Authorization: Bearer {api_key}",
        flush=True,
    )
    return api_key
