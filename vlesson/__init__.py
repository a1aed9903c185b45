"""vlesson: the package behind the vLLM lesson notebooks.

Usage: ``import vlesson as vl``; then ``llm = vl.get_llm()`` and ``vl.generate(llm, prompts)``.
Importing vlesson starts nothing and imports neither vLLM (about 10 s) nor ipywidgets:
every name below is loaded on first use.

Layers, importing downwards only (``tests/unit/test_layers.py`` checks it):
``cli`` -> ``exercises`` | ``playground`` | ``serving`` | ``workflows`` -> the core:
``settings`` -> ``generate`` -> ``engine`` -> ``remote`` -> ``sampling``, ``facts``,
``models``, ``compat``, ``paths``... (``remote`` sits below the engine, which returns a
``RemoteLLM`` when a classroom server is set).
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_MODULES = {
    # core
    "compat": "vlesson.compat",
    "engine": "vlesson.engine",
    "envvars": "vlesson.envvars",
    "facts": "vlesson.facts",
    "files": "vlesson.files",
    "models": "vlesson.models",
    "paths": "vlesson.paths",
    "remote": "vlesson.remote",
    "sampling": "vlesson.sampling",
    "settings": "vlesson.settings",
    # workflows
    "batch": "vlesson.workflows.batch",
    "bench": "vlesson.workflows.bench",
    "cache": "vlesson.workflows.cache",
    "compare": "vlesson.workflows.compare",
    "experiments": "vlesson.workflows.experiments",
    "machinery": "vlesson.workflows.machinery",
    "memory": "vlesson.workflows.memory",
    "metrics": "vlesson.workflows.metrics",
    "quantization": "vlesson.workflows.quantization",
    "report": "vlesson.workflows.report",
    "runlog": "vlesson.workflows.runlog",
    "smart": "vlesson.workflows.smart",
    "sweep": "vlesson.workflows.sweep",
    # exercises
    "check": "vlesson.exercises.check",
    # playground
    "distribution": "vlesson.playground.distribution",
    "scheduler": "vlesson.playground.scheduler",
    "widgets": "vlesson.playground.widgets",
    # serving
    "api": "vlesson.serving.api",
    # the command line's parsers, for exercise 2.2
    "options": "vlesson.cli.options",
}
"""``vl.NAME`` -> the module it loads."""

_LAYERS = ("cli", "exercises", "playground", "serving", "workflows")
"""The sub-packages, also reachable as ``vlesson.workflows`` after ``import vlesson``."""

_NAMES = {
    "DEFAULT_MODEL": "vlesson.models",
    "LESSON_PROMPTS": "vlesson.generate",
    "PARAMS": "vlesson.sampling",
    "EngineFacts": "vlesson.facts",
    "Generation": "vlesson.generate",
    "ModelNotAvailableError": "vlesson.models",
    "ParamError": "vlesson.sampling",
    "RemoteError": "vlesson.remote",
    "RemoteUnsupportedError": "vlesson.remote",
    "Verdict": "vlesson.exercises.grading",
    "cached_generate": "vlesson.workflows.cache",
    "effective_engine_args": "vlesson.engine",
    "engine_facts": "vlesson.facts",
    "engine_info": "vlesson.engine",
    "get_llm": "vlesson.engine",
    "hint": "vlesson.exercises.hints",
    "make_sampling_params": "vlesson.sampling",
    "needs_local_engine": "vlesson.engine",
    "progress": "vlesson.exercises.progress",
    "release": "vlesson.engine",
    "solution": "vlesson.exercises.hints",
    "validate": "vlesson.sampling",
}
"""``vl.NAME`` -> the module that defines it."""

__all__ = [*_MODULES, *_NAMES, "generate"]  # noqa: PLE0604


def __getattr__(name: str) -> Any:
    """Load a module or a name on first use (PEP 562), then keep it here."""
    if name in _NAMES:
        value = getattr(importlib.import_module(_NAMES[name]), name)
    elif name in _MODULES:
        value = importlib.import_module(_MODULES[name])
    elif name in _LAYERS:
        value = importlib.import_module(f"vlesson.{name}")
    else:
        raise AttributeError(f"module 'vlesson' has no attribute {name!r}")
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *__all__})


# Loaded now, not on first use: importing the submodule ``vlesson.generate`` (any
# workflow does) binds ``vlesson.generate`` to the module, which would hide the
# function from ``vl.generate(...)``. The core it pulls in imports no vLLM.
from vlesson.generate import generate
from vlesson.paths import put_commands_on_path

put_commands_on_path()  # a notebook's `!vlesson ...` finds this install's command

if TYPE_CHECKING:  # what editors and type checkers see
    from vlesson import (
        compat,
        engine,
        envvars,
        facts,
        files,
        models,
        paths,
        remote,
        sampling,
        settings,
    )
    from vlesson.cli import options
    from vlesson.engine import (
        effective_engine_args,
        engine_info,
        get_llm,
        needs_local_engine,
        release,
    )
    from vlesson.exercises import check
    from vlesson.exercises.grading import Verdict
    from vlesson.exercises.hints import hint, solution
    from vlesson.exercises.progress import progress
    from vlesson.facts import EngineFacts, engine_facts
    from vlesson.generate import LESSON_PROMPTS, Generation, generate
    from vlesson.models import DEFAULT_MODEL, ModelNotAvailableError
    from vlesson.playground import distribution, scheduler, widgets
    from vlesson.remote import RemoteError, RemoteUnsupportedError
    from vlesson.sampling import PARAMS, ParamError, make_sampling_params, validate
    from vlesson.serving import api
    from vlesson.workflows import (
        batch,
        bench,
        cache,
        compare,
        experiments,
        machinery,
        memory,
        metrics,
        quantization,
        report,
        runlog,
        smart,
        sweep,
    )
    from vlesson.workflows.cache import cached_generate
