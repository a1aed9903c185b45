"""Self-assessment checkpoints: one per "you should be able to" item of the lesson.

Each checks the learner's work against the real parser or engine, raises
AssertionError with a specific hint when it is wrong, and returns a one-line
confirmation when it is right. Reference answers are in ``vlesson.solutions``.
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import shlex
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlesson.sampling import ParamError, describe, make_sampling_params

if TYPE_CHECKING:
    from vllm import LLM

FOCUS_PROMPT = "The future of renewable energy is"
"""The prompt the focused-config checkpoint generates for."""


def _parse_generate(argv: Sequence[str]) -> tuple[Any, Any]:
    """Parse argv with the real ``vlesson generate`` parser; AssertionError if not."""
    from vlesson.cli import generate

    parser = generate.build_parser()
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parser, generate.parse(parser, list(argv))
    except SystemExit:
        last = err.getvalue().strip().splitlines()[-1:] or ["(no message)"]
        raise AssertionError(f"the parser rejected it: {last[0]}") from None


# -- 1. Use command-line arguments effectively ---------------------------------------


def command_line(argv: str | Sequence[str]) -> str:
    """Check a ``vlesson generate`` command line for the task in notebook 07.

    The task: prompts "Once upon a time" and "In the future", temperature 0.8, at
    most 60 new tokens, weights in float32.
    """
    words = shlex.split(argv) if isinstance(argv, str) else list(argv)
    if words[:2] == ["vlesson", "generate"]:
        words = words[2:]
    from vlesson.cli import common, generate

    parser, args = _parse_generate(words)
    engine, sampling = common.split_args(parser, args, generate.OWN_OPTIONS)
    prompts = args.prompt or []
    assert prompts == ["Once upon a time", "In the future"], (
        f"prompts are {prompts}: give each prompt its own --prompt, in order, and "
        "quote prompts with spaces (--prompt 'Once upon a time')"
    )
    assert sampling.get("temperature") == 0.8, (
        f"temperature is {sampling.get('temperature')}: add --temperature 0.8"
    )
    assert sampling.get("max_tokens") == 60, (
        f"max_tokens is {sampling.get('max_tokens')}: the number of NEW tokens is "
        "--max-tokens (--max-model-len is the context size)"
    )
    assert engine.get("dtype") == "float32", (
        f"dtype is {engine.get('dtype')}: the weights' type is an engine option, "
        "--dtype float32"
    )
    return "command_line: passed - the real parser reads exactly what was asked"


# -- 2. Understand what EngineArgs provides ------------------------------------------

ENGINE_CASES: tuple[tuple[str, ...], ...] = (
    ("--model", "facebook/opt-125m", "--dtype", "float32", "--max-model-len", "1024"),
    (
        "--model",
        "my-model",
        "--gpu-memory-utilization",
        "0.5",
        "--enforce-eager",
        "--max-num-seqs",
        "8",
    ),
    (),
)


def engine_args(fn: Callable[[list[str]], Any]) -> str:
    """Check ``fn(argv) -> EngineArgs`` built with vLLM's own parser on three lines."""
    from vllm import EngineArgs

    from vlesson.compat import flexible_argument_parser

    for case in ENGINE_CASES:
        got = fn(list(case))
        assert isinstance(got, EngineArgs), (
            f"fn({list(case)}) returned {type(got).__name__}, not EngineArgs: turn "
            "the parsed Namespace into one with EngineArgs.from_cli_args(args)"
        )
        parser = flexible_argument_parser()()
        EngineArgs.add_cli_args(parser)
        want = EngineArgs.from_cli_args(parser.parse_args(list(case)))
        for field in (
            "model",
            "dtype",
            "max_model_len",
            "gpu_memory_utilization",
            "enforce_eager",
            "max_num_seqs",
        ):
            assert getattr(got, field) == getattr(want, field), (
                f"for {list(case) or 'no options'}, {field} is {getattr(got, field)!r}"
                f" but vLLM's parser gives {getattr(want, field)!r}: add the options "
                "with EngineArgs.add_cli_args(parser) and parse argv, do not set "
                "fields by hand"
            )
    return "engine_args: passed - same EngineArgs as vLLM's own parser, defaults too"


# -- 3. Separate sampling params from engine args ------------------------------------

SPLIT_CASES: tuple[dict[str, Any], ...] = (
    {
        "model": "smollm2-135m-instruct",
        "dtype": "float32",
        "max_model_len": 2048,
        "enforce_eager": True,
        "temperature": 0.7,
        "top_p": 0.95,
        "max_tokens": 100,
    },
    {
        "max_num_seqs": 4,
        "block_size": 16,
        "top_k": 20,
        "min_tokens": 5,
        "presence_penalty": 0.5,
        "stop": ["\n"],
    },
)


def split_settings(fn: Callable[[dict[str, Any]], tuple[dict, dict]]) -> str:
    """Check ``fn(settings) -> (engine_kwargs, sampling_kwargs)`` on mixed dicts."""
    from vllm import EngineArgs, SamplingParams

    engine_fields = {f.name for f in dataclasses.fields(EngineArgs)}
    for case in SPLIT_CASES:
        engine, sampling = fn(dict(case))
        lost = set(case) - set(engine) - set(sampling)
        assert not lost, f"keys lost from {case}: {sorted(lost)} - keep every key"
        for key in engine:
            assert key in engine_fields, (
                f"{key!r} is in your engine dict, but it is not an EngineArgs field:"
                f" it belongs to SamplingParams (max_model_len is the engine's context"
                f" size, max_tokens a request's limit)"
            )
        for key in sampling:
            assert key not in engine_fields, (
                f"{key!r} is in your sampling dict, but it configures the engine "
                "(it is a field of EngineArgs)"
            )
        EngineArgs(**engine)  # both must really build
        SamplingParams(**sampling)
    return "split_settings: passed - EngineArgs and SamplingParams both accept them"


# -- 4. Override default parameters selectively --------------------------------------

OVERRIDES = {"temperature": 0.3, "top_p": None, "max_tokens": 50, "top_k": None}
"""None means "not given": the model's default must stay."""


def override_defaults(fn: Callable[[Any, dict[str, Any]], Any], llm: LLM) -> str:
    """Check ``fn(defaults, overrides) -> SamplingParams`` on the engine's defaults."""
    from vllm import SamplingParams

    defaults = llm.get_default_sampling_params()
    before = repr(defaults)
    got = fn(defaults, dict(OVERRIDES))
    assert isinstance(got, SamplingParams), (
        f"returned {type(got).__name__}: return a SamplingParams"
    )
    assert repr(defaults) == before, (
        "the defaults object itself was changed: start from defaults.clone()"
    )
    want = describe(llm.get_default_sampling_params())
    want.update({k: v for k, v in OVERRIDES.items() if v is not None})
    for name, value in describe(got).items():
        hint = (
            "None means 'not given': skip it, keep the default"
            if OVERRIDES.get(name, 0) is None
            else "set only the given values"
        )
        assert value == want[name], (
            f"{name} is {value!r} but should be {want[name]!r} - {hint}"
        )
    return "override_defaults: passed - given values set, everything else the model's"


# -- 5. Create reusable, configurable scripts ---------------------------------------


def focused_config(config: Mapping[str, Any] | str | Path, llm: LLM) -> str:
    """Check a config (dict or JSON file) for exercise 2.5 with the real CLI and engine.

    The task: high-quality, focused output; exactly 150 tokens; top-k sampling.
    """
    from vlesson.cli import common, generate

    with tempfile.TemporaryDirectory() as tmp:
        path = Path(config) if isinstance(config, (str, Path)) else Path(tmp, "c.json")
        if not isinstance(config, (str, Path)):
            path.write_text(json.dumps(dict(config)), encoding="utf-8")
        try:
            parser, args = _parse_generate(["--config", str(path)])
        except common.UsageError as exc:
            raise AssertionError(f"the config does not load: {exc}") from None
    _, sampling = common.split_args(parser, args, generate.OWN_OPTIONS)
    t, p, k = (sampling.get(n) for n in ("temperature", "top_p", "top_k"))
    assert t is not None and 0 < t <= 0.6, (
        f"temperature is {t}: focused means low, about 0.3-0.5 (0 is greedy, and "
        "then top-k would not matter)"
    )
    assert p is not None and p <= 0.9, f"top_p is {p}: use a low top_p, e.g. 0.8"
    assert k == 20, f"top_k is {k}: top-k sampling with k = 20, as the hint says"
    assert sampling.get("max_tokens") == 150, (
        f"max_tokens is {sampling.get('max_tokens')}: set it to 150"
    )
    from vlesson.generate import generate as run

    params = make_sampling_params(llm, {**sampling, "seed": 0})
    gen = run(llm, FOCUS_PROMPT, params, use_tqdm=False)[0]
    assert gen.num_tokens == 150, (
        f"the model stopped after {gen.num_tokens} tokens (finish_reason="
        f"{gen.finish_reason}): max_tokens is only a ceiling - set min_tokens to 150 "
        "as well, so end-of-sequence cannot stop it earlier"
    )
    return f"focused_config: passed - {gen.num_tokens} tokens at T={t}, top_k={k}"


# -- 6. Debug configuration issues ---------------------------------------------------

BROKEN_CONFIGS: tuple[dict[str, Any], ...] = (
    {"temperature": 0.7, "top_p": 1.5},
    {"temprature": 0.7, "max_tokens": 50},
    {"temperature": -0.5, "max_tokens": 10},
    {"max_tokens": 0},
    {"min_tokens": 50, "max_tokens": 10},
    {"max_tokens": 10**6},
    {"temperature": 0.7, "top_p": 0.9, "max_tokens": 64},
)
"""Configs to diagnose; the last is fine."""


def diagnose(fn: Callable[[Any, dict[str, Any]], str | None], llm: LLM) -> str:
    """Check ``fn(llm, config) -> name of the bad key, or None`` against the engine."""
    for config in BROKEN_CONFIGS:
        try:
            make_sampling_params(llm, config)
            want, message = None, "it is valid"
        except ParamError as exc:
            want, message = exc.param, str(exc)
        try:
            got = fn(llm, dict(config))
        except ParamError as exc:
            raise AssertionError(
                f"for {config} your function raised ParamError({exc}) - catch it "
                "and return the key it names (exc.param)"
            ) from None
        assert got == want, (
            f"for {config} you returned {got!r}, but the engine's validation says "
            f"{want!r} ({message}) - call vl.make_sampling_params(llm, config), "
            "catch vl.ParamError and return its .param; None when nothing is raised"
        )
    return f"diagnose: passed - {len(BROKEN_CONFIGS)} configs named right"


# -- 7. Read and understand vLLM logs -----------------------------------------------

SAMPLE_LOG = (
    "INFO 11-26 20:52:27 [kv_cache_utils.py:2328] CPU KV cache size: 1,234,567 "
    "tokens, Maximum concurrency for 2,048 tokens per request: 602.82x\n"
)
"""A made-up line in vLLM's format, so a hard-coded answer fails."""


def read_log(fn: Callable[[str], Mapping[str, Any]], log_text: str, llm: LLM) -> str:
    """Check ``fn(log) -> {"kv_cache_tokens", "max_concurrency"}`` on a real log."""
    from vlesson.engine import is_remote

    if is_remote(llm):  # classroom mode: the start-up log is on the server
        _check_log_reader(fn, [(SAMPLE_LOG, 1234567, 602.82)])
        from vlesson.remote import local_only

        return "read_log: passed on a sample line only. " + local_only(
            "Reading the engine's start-up log", llm.server
        )
    last = (log_text.strip().splitlines() or ["(empty)"])[-1]
    assert "KV cache size" in log_text, (
        "this log has no 'KV cache size' line: capture the start-up log with "
        f"VLLM_LOGGING_LEVEL=INFO (vLLM logs it at INFO level). Its last line: {last}"
    )
    from vlesson.compat import kv_cache_capacity

    tokens, concurrency = kv_cache_capacity(llm)
    _check_log_reader(
        fn, [(log_text, tokens, concurrency), (SAMPLE_LOG, 1234567, 602.82)]
    )
    return (
        f"read_log: passed - {tokens:,} tokens of KV cache: {concurrency:.2f} requests"
        " of full context length fit at once"
    )


def _check_log_reader(
    fn: Callable[[str], Mapping[str, Any]], cases: list[tuple[str, int, float]]
) -> None:
    for text, want_tokens, want_concurrency in cases:
        try:
            got = fn(text)
        except ValueError as exc:
            raise AssertionError(
                f"your function raised ValueError({exc}): vLLM writes numbers with "
                "thousands separators (46,592) - remove the commas before int()"
            ) from None
        assert got.get("kv_cache_tokens") == want_tokens, (
            f"kv_cache_tokens is {got.get('kv_cache_tokens')!r}, the engine says "
            f"{want_tokens}: read the number before 'tokens' in the 'KV cache size' "
            "line, as an int"
        )
        assert math.isclose(
            got.get("max_concurrency") or 0, want_concurrency, abs_tol=0.01
        ), (
            f"max_concurrency is {got.get('max_concurrency')!r}, the engine says "
            f"{want_concurrency:.2f}: read the number before 'x' as a float"
        )
