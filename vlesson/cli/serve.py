"""``vlesson serve``: the web API (exercise 2.13) on uvicorn, one warm engine."""

from __future__ import annotations

import argparse
import dataclasses
import ipaddress
import os
import sys
from collections.abc import Sequence

from vlesson.cli import common

DESCRIPTION = """Serve the model over HTTP with vLLM's asynchronous engine: POST /generate,
GET /health, GET /models; the OpenAPI page is at /docs. The model loads once at start-up,
and requests arriving together are batched by vLLM. Engine options are vLLM's own; on a
CPU vlesson adds the same defaults as `vlesson generate`."""


def build_parser(prog: str = "vlesson serve") -> argparse.ArgumentParser:
    """Return the parser: server options, request limits, every EngineArgs option."""
    from vlesson.api import API_KEY_ENV, Limits
    from vlesson.compat import flexible_argument_parser

    parser = flexible_argument_parser()(prog=prog, description=DESCRIPTION)
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
    common.add_engine_args(parser)
    return parser


OWN_OPTIONS = (
    "host",
    "port",
    "api_key_env",
    "uvicorn_log_level",
    "limit_max_prompts",
    "limit_max_prompt_chars",
    "limit_max_tokens",
)


def parse(parser: argparse.ArgumentParser, argv: Sequence[str]) -> argparse.Namespace:
    """Parse argv."""
    args = parser.parse_args(list(argv))
    args.command_line_keys = sorted(common.given_on_command_line(parser, list(argv)))
    return args


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Check the options, then serve until interrupted."""
    import uvicorn

    from vlesson.api import Limits, create_app

    limits = Limits(
        args.limit_max_prompts, args.limit_max_prompt_chars, args.limit_max_tokens
    )
    if min(vars(limits).values()) < 1:
        raise common.UsageError(f"request limits must be at least 1, got {limits}")
    api_key = os.environ.get(args.api_key_env) or None
    engine_args, _ = common.split_args(parser, args, OWN_OPTIONS)
    if not api_key and not _is_loopback(args.host):
        print(
            f"vlesson serve: warning: {args.host} is reachable from other machines and "
            f"no API key is set (${args.api_key_env})",
            file=sys.stderr,
        )
    app = create_app(api_key=api_key, limits=limits, **engine_args)
    key_note = f"API key from ${args.api_key_env}" if api_key else "no API key"
    print(
        f"vlesson serve: loading {engine_args['model']}, then serving on "
        f"http://{args.host}:{args.port} (docs at /docs, {key_note})",
        flush=True,
    )
    uvicorn.run(app, host=args.host, port=args.port, log_level=args.uvicorn_log_level)
    return 0


def _is_loopback(host: str) -> bool:
    try:
        return ipaddress.ip_address(host).is_loopback
    except ValueError:
        return host == "localhost"
