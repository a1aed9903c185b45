"""``vlesson compile``: compile the lesson's engines once on a CPU (``make model`` runs it)."""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from typing import Any

from vlesson import compiled, engine, envvars, models
from vlesson.child import run_with_deadline
from vlesson.models import ModelNotAvailableError, ModelNotFoundError

DESCRIPTION = """Compile the lesson's engine configurations once on a CPU (vLLM's compiled
graphs: faster steps than eager mode), so that every later start with the same engine
arguments runs compiled and is ready in seconds. The first time takes 1.5-3 minutes;
configurations compiled already are skipped. Each is then started once in a new process,
as a notebook would: one that does not load what vLLM saved stays eager, with the reason,
and is skipped until --again. Other arguments start in eager mode; VLESSON_COMPILE=0
keeps every engine eager. On a GPU vLLM compiles at each start itself."""

LESSON_CONFIGURATIONS = (
    {},  # vl.get_llm(): the playground, the CLI, most notebooks
    {"disable_log_stats": False},  # with vLLM's statistics: notebooks 04 and 06, bench
)
"""The engine arguments (besides the model) that the notebooks' engines use."""


def build_parser(prog: str) -> argparse.ArgumentParser:
    """Return the parser: an optional offline model, and --again."""
    parser = argparse.ArgumentParser(prog=prog, description=DESCRIPTION)
    parser.add_argument("--model", default=models.DEFAULT_MODEL,
                        help=f"the model to compile for (default {models.DEFAULT_MODEL})")
    parser.add_argument("--again", action="store_true",
                        help="try once more where compiling failed here before")
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
        eager = engine.effective_engine_args(args.model, **extra)
        if not eager["enforce_eager"]:
            print(f"{prog}: {args.model} ({label}) is compiled already")
            continue
        failed = compiled.failure(eager)
        if failed and not args.again:
            print(f"{prog}: {args.model} ({label}) stays eager: {failed} (`{prog} "
                  "--again` tries once more)")
            continue
        print(f"{prog}: compiling {args.model} ({label}) once: 1.5-3 minutes the first "
              "time")
        works, how = _compile(args.model, extra)
        if works:
            print(f"{prog}: done: engines with these arguments now start compiled "
                  f"({how})")
        else:
            compiled.forget(eager, how)
            print(f"{prog}: {how}, so these engines stay eager", file=sys.stderr)
    return 0


def _compile(model: str, extra: dict[str, Any]) -> tuple[bool, str]:
    """Compile one configuration, then check that a new process starts from what vLLM
    saved; return whether its engines now start compiled, and how it went."""
    try:
        engine.get_llm(model, enforce_eager=False, **extra)
    except (ModelNotAvailableError, ModelNotFoundError):
        raise
    except Exception as exc:  # noqa: BLE001 - the lesson runs eager without it
        first = (str(exc).strip().splitlines() or [""])[0]
        return False, f"compiling failed ({type(exc).__name__}: {first})"
    finally:
        engine.release()
    if engine.effective_engine_args(model, **extra)["enforce_eager"]:
        return False, "vLLM saved no compiled model"
    loaded, how = start_in_a_new_process(model, extra)
    if not loaded:
        return False, f"a new process could not start from what vLLM saved ({how})"
    return True, how


START_DEADLINE_S = 600
"""Seconds the check's start may take: one that compiles again takes 1.5-3 minutes."""
START_ONCE = """
import json, sys
from vlesson import compat, engine
llm = engine.get_llm(sys.argv[1], **json.loads(sys.argv[2]))
print("LOADED", compat.loaded_saved_compiled_model(llm))
"""


def start_in_a_new_process(model: str, extra: dict[str, Any]) -> tuple[bool, str]:
    """Start these arguments' engine once more, in a new process as a learner's would,
    and return whether it loaded the compiled model vLLM saved, and how it went."""
    start = time.perf_counter()
    ran = run_with_deadline([sys.executable, "-c", START_ONCE, model, json.dumps(extra)],
                            START_DEADLINE_S)
    if ran is None:
        return False, f"no engine after {START_DEADLINE_S} s"
    seconds = time.perf_counter() - start
    code, out = ran
    if code != 0:
        last = (out.strip().splitlines() or [f"exit {code}"])[-1]
        return False, f"it failed: {last}"
    if "LOADED False" in out:
        return False, f"vLLM compiled it again, in {seconds:.0f} s"
    return True, f"a new process started it from the saved model in {seconds:.0f} s"
