"""Reference answers to the self-assessment checkpoints of ``vlesson.check``.

Notebook 07 ships the same code in its (collapsed) answer cells; look here only
after trying.
"""

from __future__ import annotations

import dataclasses
import re
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from vllm import LLM, EngineArgs, SamplingParams

COMMAND_LINE = (
    "vlesson generate --prompt 'Once upon a time' --prompt 'In the future' "
    "--temperature 0.8 --max-tokens 60 --dtype float32"
)
"""1. The command line of the task in ``check.command_line``."""


def engine_args_from_cli(argv: list[str]) -> EngineArgs:
    """2. Parse argv with vLLM's own options into EngineArgs."""
    from vllm import EngineArgs
    from vllm.utils.argparse_utils import FlexibleArgumentParser

    parser = FlexibleArgumentParser()
    EngineArgs.add_cli_args(parser)
    return EngineArgs.from_cli_args(parser.parse_args(argv))


def split_settings(settings: dict[str, Any]) -> tuple[dict, dict]:
    """3. Split a flat dict into EngineArgs fields and sampling parameters."""
    from vllm import EngineArgs

    engine_fields = {f.name for f in dataclasses.fields(EngineArgs)}
    engine = {k: v for k, v in settings.items() if k in engine_fields}
    sampling = {k: v for k, v in settings.items() if k not in engine_fields}
    return engine, sampling


def override_defaults(defaults: SamplingParams, overrides: dict) -> SamplingParams:
    """4. Copy the defaults and set only the values given (None: not given)."""
    params = defaults.clone()
    for name, value in overrides.items():
        if value is not None:
            setattr(params, name, value)
    return params


FOCUSED_CONFIG = {
    "temperature": 0.4,
    "top_p": 0.8,
    "top_k": 20,
    "max_tokens": 150,
    "min_tokens": 150,
}
"""5. Exercise 2.5: focused, exactly 150 tokens, top-k sampling."""


def diagnose(llm: LLM, config: dict[str, Any]) -> str | None:
    """6. Return the key the engine's validation rejects, or None."""
    import vlesson as vl

    try:
        vl.make_sampling_params(llm, config)
    except vl.ParamError as exc:
        return exc.param
    return None


def read_kv_cache(log_text: str) -> dict[str, Any]:
    """7. Read KV cache size and max concurrency from vLLM's start-up log."""
    size = re.search(r"KV cache size: ([\d,]+) tokens", log_text)
    concurrency = re.search(
        r"Maximum concurrency for [\d,]+ tokens per request: "
        r"([\d.]+)x",
        log_text,
    )
    return {
        "kv_cache_tokens": int(size.group(1).replace(",", "")) if size else None,
        "max_concurrency": float(concurrency.group(1)) if concurrency else None,
    }
