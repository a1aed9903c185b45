"""The ``vlesson`` command: subcommands, error reporting and exit codes.

Exit codes: 0 success; 2 usage or validation error (no engine started); 1 engine failure.
"""

from __future__ import annotations

import argparse
import importlib
import logging
import sys
import warnings
from collections.abc import Sequence

from vlesson import engine
from vlesson.cli.arguments import check_before_engine, refuse_key_on_command_line
from vlesson.models import ModelNotAvailableError, ModelNotFoundError
from vlesson.sampling import ParamError
from vlesson.settings import UsageError

COMMANDS = {
    "generate": "vlesson.cli.generate",
    "models": "vlesson.cli.models",
    "prepare-model": "vlesson.cli.models",
    "compile": "vlesson.cli.compile",
    "batch": "vlesson.cli.batch",
    "sweep": "vlesson.cli.sweep",
    "cache": "vlesson.cli.cache",
    "classroom-server": "vlesson.cli.classroom",
    "serve": "vlesson.cli.serve",
    "smart": "vlesson.cli.smart",
    "bench": "vlesson.cli.bench",
    "lesson": "vlesson.cli.lesson",
}
"""Subcommand name -> module with ``build_parser(name)`` and ``run(args, parser)``."""

CHECKED_BEFORE_ENGINE = frozenset({"generate", "batch", "sweep"})
"""Subcommands whose own options (sampling, input, --config, model) are checked before
vLLM is imported (``arguments.check_before_engine``), so a mistake returns at once."""
VERBOSE = "--verbose"

USAGE = """usage: vlesson COMMAND [options] [--verbose]   (vlesson COMMAND --help)

--verbose shows what an engine start prints besides vlesson's lines and errors (vLLM's
warnings, library FutureWarnings).

commands:
  generate        generate text for prompts (the lesson's text_generation.py)
  models          list the offline models and where they are
  prepare-model   convert an offline model once (make lab does this)
  compile         compile the lesson's engines once on a CPU (make lab does this)
  batch           generate every prompt of a file, one result file each (resumable)
  sweep           try a grid of sampling settings in one batched call, recommend one
  cache           show (stats) or empty (clear) the result cache
  classroom-server  start vLLM's server for a class (learners set VLESSON_SERVER)
  serve           serve the model over HTTP (FastAPI, vLLM's async engine)
  smart           generate, score and rank outputs for a topic; write results.md
  bench           benchmark TTFT, tokens/s and memory; write a CSV and a plot
  lesson          build the learner's notebooks, reset one (keeping yours), progress
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
    verbose = VERBOSE in rest
    rest = [arg for arg in rest if arg != VERBOSE]
    logging.basicConfig(
        level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s"
    )
    _quiet(f"vlesson {name}", verbose)
    module = importlib.import_module(COMMANDS[name])
    return _run(module, name, rest, verbose=verbose)


def _quiet(prog: str, verbose: bool) -> None:
    """Keep an engine start to vlesson's lines and the errors that matter; warnings
    are one line each. ``--verbose`` lets vLLM's warnings and other libraries' through."""

    shown: set[str] = set()

    def one_line(message, category, filename, lineno, file=None, line=None):
        # Once each: the values are checked before the engine starts and again after
        # (vLLM's import resets the warnings module's own once-only registry).
        if str(message) not in shown:
            shown.add(str(message))
            print(f"{prog}: warning: {message}", file=sys.stderr)

    warnings.showwarning = one_line
    if verbose:
        engine.be_verbose()
        return
    # Triton's "no CPU backend", "Found duplicate keys --prompt": vLLM's own warnings,
    # which reach the root handler through its logger (the level: engine.py).
    logging.getLogger("vllm").setLevel(logging.ERROR)
    warnings.filterwarnings("ignore")  # torch's FutureWarnings inside vLLM and such
    warnings.filterwarnings("default", module=r"vlesson(\.|$)")


def _run(module, name: str, rest: list[str], *, verbose: bool = False) -> int:
    """The one parse/run skeleton: a subcommand module gives ``build_parser(prog)``,
    ``run(args, parser)`` and, where argparse alone is not enough, ``parse``."""
    prog = f"vlesson {name}"
    try:
        refuse_key_on_command_line(rest)
        if name in CHECKED_BEFORE_ENGINE and not {"-h", "--help"} & set(rest):
            check_before_engine(rest, getattr(module, "OWN_OPTIONS", ()))
        parser = module.build_parser(prog)
        args = parse_args(module, parser, rest)
        return module.run(args, parser)
    except (UsageError, ParamError, ModelNotFoundError) as exc:
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


def parse_args(
    module, parser: argparse.ArgumentParser, argv: Sequence[str]
) -> argparse.Namespace:
    """Parse argv as ``vlesson COMMAND`` does: the module's ``parse`` if it has one
    (``--config`` files, options kept for vLLM), else plain argparse."""
    parse = getattr(module, "parse", None)
    if parse is None:
        return parser.parse_args(list(argv))
    return parse(parser, list(argv))
