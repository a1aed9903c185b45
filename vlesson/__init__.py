"""vlesson: the package behind the vLLM lesson notebooks.

Usage: ``import vlesson as vl``; then ``llm = vl.get_llm()`` and ``vl.generate(llm, prompts)``.
Importing vlesson starts nothing and does not import vLLM (that takes about 10 s).
"""

from vlesson import sampling
from vlesson.engine import effective_engine_args, engine_info, get_llm, release
from vlesson.generate import LESSON_PROMPTS, Generation, generate
from vlesson.models import DEFAULT_MODEL, ModelNotAvailableError
from vlesson.sampling import PARAMS, ParamError, make_sampling_params, validate

# Exercises 2.1, 2.6, 2.12, the challenge and the bonus (none imports vLLM at import).
from vlesson import bench, compare, memory, quantization, report, smart

__version__ = "0.1.0"

__all__ = [
    "DEFAULT_MODEL",
    "LESSON_PROMPTS",
    "PARAMS",
    "Generation",
    "ModelNotAvailableError",
    "ParamError",
    "effective_engine_args",
    "engine_info",
    "generate",
    "get_llm",
    "make_sampling_params",
    "release",
    "sampling",
    "validate",
    # exercises 2.1, 2.6, 2.12, challenge, bonus
    "bench",
    "compare",
    "memory",
    "quantization",
    "report",
    "smart",
]
