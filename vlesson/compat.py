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
