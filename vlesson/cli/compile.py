"""``vlesson compile``: compile the lesson's engines once on a CPU (``make model`` runs it)."""

from __future__ import annotations

import argparse
import os
import sys

from vlesson import compiled, engine, envvars, models
from vlesson.models import ModelNotAvailableError, ModelNotFoundError

DESCRIPTION = """Compile the lesson's engine configurations once on a CPU (vLLM's compiled
graphs: faster steps than eager mode), so that every later start with the same engine
arguments runs compiled and is ready in seconds. The first time takes 1.5-3 minutes;
configurations compiled already are skipped. Other arguments start in eager mode;
VLESSON_COMPILE=0 keeps every engine eager. On a GPU vLLM compiles at each start itself."""

LESSON_CONFIGURATIONS = (
    {},  # vl.get_llm(): the playground, the CLI, most notebooks
    {"disable_log_stats": False},  # with vLLM's statistics: notebooks 04 and 06, bench
)
"""The engine arguments (besides the model) that the notebooks' engines use."""


def build_parser(prog: str) -> argparse.ArgumentParser:
    """Return the parser: an optional offline model."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    parser.add_argument("--model", default=models.DEFAULT_MODEL,
                        help=f"the model to compile for (default {models.DEFAULT_MODEL})")
    return parser


def run(args: argparse.Namespace, parser: argparse.ArgumentParser) -> int:
    """Compile each lesson configuration not compiled yet; say what was done."""
    prog = parser.prog
    if not compiled.enabled():
        print(f"{prog}: {envvars.COMPILE}=0 keeps engines eager: nothing to compile")
        return 0
    if os.environ.get(envvars.SERVER):
        print(f"{prog}: {envvars.SERVER} is set, so the class server's engine runs the "
              "lesson: nothing to compile here")
        return 0
    if not engine.is_cpu():
        print(f"{prog}: on a GPU vLLM compiles at every engine start: nothing to do")
        return 0
    for extra in LESSON_CONFIGURATIONS:
        label = ", ".join(f"{k}={v!r}" for k, v in extra.items()) or "default arguments"
        if not engine.effective_engine_args(args.model, **extra)["enforce_eager"]:
            print(f"{prog}: {args.model} ({label}) is compiled already")
            continue
        print(f"{prog}: compiling {args.model} ({label}) once: 1.5-3 minutes the first "
              "time")
        try:
            engine.get_llm(args.model, enforce_eager=False, **extra)
        except (ModelNotAvailableError, ModelNotFoundError):
            raise
        except Exception as exc:  # noqa: BLE001 - the lesson runs eager without it
            engine.release()
            first = (str(exc).strip().splitlines() or [""])[0]
            print(f"{prog}: compiling failed ({type(exc).__name__}: {first}), so these "
                  "engines stay eager", file=sys.stderr)
            continue
        if not engine.effective_engine_args(args.model, **extra)["enforce_eager"]:
            print(f"{prog}: done: engines with these arguments now start compiled")
        else:
            print(f"{prog}: vLLM saved no compiled model, so these engines stay eager")
    engine.release()
    return 0
