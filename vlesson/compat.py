"""What differs between the vLLM releases vlesson supports (0.24 to the newest).

Everything else in vlesson imports these names from here, never the moving paths.
"""

from __future__ import annotations


def flexible_argument_parser() -> type:
    """Return vLLM's FlexibleArgumentParser (moved to vllm.utils.argparse_utils)."""
    try:
        from vllm.utils.argparse_utils import FlexibleArgumentParser
    except ImportError:  # older releases kept it in vllm.utils
        from vllm.utils import FlexibleArgumentParser
    return FlexibleArgumentParser


def validation_errors() -> tuple[type[BaseException], ...]:
    """Return the exception types SamplingParams raises for a bad value."""
    try:
        from vllm.exceptions import VLLMValidationError
    except ImportError:  # older releases raised plain ValueError
        return (ValueError,)
    return (ValueError, VLLMValidationError)


def async_engine_class() -> type:
    """Return vLLM's asynchronous engine (AsyncLLM; AsyncLLMEngine before V1)."""
    try:
        from vllm.v1.engine.async_llm import AsyncLLM
    except ImportError:  # older releases exported only the V0 name
        from vllm import AsyncLLMEngine as AsyncLLM
    return AsyncLLM


async def render_prompt(engine, prompt: str):
    """Tokenize a text prompt for ``engine.generate`` (raw text where no renderer).

    vLLM 0.32 deprecates passing raw text to the asynchronous engine; its renderer
    tokenizes and checks the length against max_model_len (ValueError if too long).
    """
    renderer = getattr(engine, "renderer", None)
    try:  # the docstring of AsyncLLM.generate names vllm.inputs, which lacks it
        from vllm.renderers.inputs.preprocess import parse_model_prompt
    except ImportError:
        return prompt
    if renderer is None or not hasattr(renderer, "render_cmpl_async"):
        return prompt
    parsed = parse_model_prompt(engine.model_config, prompt)
    (rendered,) = await renderer.render_cmpl_async([parsed])
    return rendered
