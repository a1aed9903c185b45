"""The ``vlesson`` command: subcommands, error reporting and exit codes.

Exit codes: 0 success; 2 usage or validation error (no engine started); 1 engine failure.
"""

from __future__ import annotations

import importlib
import logging
import sys
from collections.abc import Sequence

COMMANDS = {
    "generate": "vlesson.cli.generate",
    "models": "vlesson.cli.models",
    "prepare-model": "vlesson.cli.models",
    "batch": "vlesson.cli.batch",
    "sweep": "vlesson.cli.sweep",
    "cache": "vlesson.cli.cache",
    "classroom-server": "vlesson.cli.classroom",
    "serve": "vlesson.cli.serve",
    "smart": "vlesson.cli.smart",
    "bench": "vlesson.cli.bench",
}
"""Subcommand name -> module with ``build_parser(name)`` and ``run(args, parser)``."""

USAGE = """usage: vlesson COMMAND [options]   (vlesson COMMAND --help for its options)

commands:
  generate        generate text for prompts (the lesson's text_generation.py)
  models          list the offline models and where they are
  prepare-model   convert an offline model once (make lab does this)
  batch           generate every prompt of a file, one result file each (resumable)
  sweep           try a grid of sampling settings in one batched call, recommend one
  cache           show (stats) or empty (clear) the result cache
  classroom-server  start vLLM's server for a class (learners set VLESSON_SERVER)
  serve           serve the model over HTTP (FastAPI, vLLM's async engine)
  smart           generate, score and rank outputs for a topic; write results.md
  bench           benchmark TTFT, tokens/s and memory; write a CSV and a plot
"""


def main(argv: Sequence[str] | None = None) -> int:
    """Run one subcommand and return its exit code."""
    argv = list(sys.argv[1:] if argv is None else argv)
    if not argv or argv[0] in ("-h", "--help"):
        print(USAGE)
        return 0 if argv else 2
    name, rest = argv[0], argv[1:]
    if name not in COMMANDS:
        print(f"vlesson: unknown command {name!r}\n\n{USAGE}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    module = importlib.import_module(COMMANDS[name])
    return _run(module, name, rest)


def _run(module, name: str, rest: list[str]) -> int:
    from vlesson.cli.common import UsageError
    from vlesson.models import ModelNotAvailableError
    from vlesson.sampling import ParamError

    prog = f"vlesson {name}"
    try:
        parser = module.build_parser(prog)
        return module.run(module.parse(parser, rest), parser)
    except (UsageError, ParamError) as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 2
    except ModelNotAvailableError as exc:
        print(f"{prog}: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print(f"{prog}: interrupted", file=sys.stderr)
        return 130
    except Exception as exc:  # the engine's own failures: one line, not a traceback
        logging.getLogger(__name__).debug("engine failure", exc_info=True)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else ""
        print(f"{prog}: failed: {type(exc).__name__}: {first}", file=sys.stderr)
        return 1
