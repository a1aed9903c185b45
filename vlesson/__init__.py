"""vlesson: the package behind the vLLM lesson notebooks.

Usage: ``import vlesson as vl``; then ``llm = vl.get_llm()`` and ``vl.generate(llm, prompts)``.
Importing vlesson starts nothing and does not import vLLM (that takes about 10 s).
"""

from vlesson import (
    batch,
    bench,
    cache,
    check,
    compare,
    distribution,
    experiments,
    memory,
    quantization,
    report,
    runlog,
    sampling,
    smart,
    solutions,
    sweep,
    widgets,
)
from vlesson.cache import cached_generate
from vlesson.cli import options
from vlesson.engine import effective_engine_args, engine_info, get_llm, release
from vlesson.generate import LESSON_PROMPTS, Generation, generate
from vlesson.models import DEFAULT_MODEL, ModelNotAvailableError
from vlesson.remote import RemoteError, RemoteUnsupportedError
from vlesson.sampling import PARAMS, ParamError, make_sampling_params, validate

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL",
    "LESSON_PROMPTS",
    "PARAMS",
    "Generation",
    "ModelNotAvailableError",
    "ParamError",
    "RemoteError",
    "RemoteUnsupportedError",
    "batch",
    "bench",
    "cache",
    "cached_generate",
    "check",
    "compare",
    "distribution",
    "effective_engine_args",
    "engine_info",
    "experiments",
    "generate",
    "get_llm",
    "make_sampling_params",
    "memory",
    "options",
    "quantization",
    "release",
    "report",
    "runlog",
    "sampling",
    "smart",
    "solutions",
    "sweep",
    "validate",
    "widgets",
]


def __getattr__(name: str):
    """Import ``vl.api`` (FastAPI, the server helper) on first use only."""
    if name == "api":
        import importlib

        return importlib.import_module("vlesson.api")
    raise AttributeError(f"module 'vlesson' has no attribute {name!r}")
