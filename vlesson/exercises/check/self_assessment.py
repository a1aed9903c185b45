"""Notebook 07: one check per "you should be able to" item of the sheet (self-1..7).

Each checks the learner's work against the real parser or engine. The reference
answers are in the source notebook's solution regions (``vl.solution("self-N")``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import json
import math
import re
import shlex
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlesson import settings
from vlesson.compat import flexible_argument_parser
from vlesson.engine import is_remote
from vlesson.exercises.grading import checkpoint
from vlesson.facts import engine_facts
from vlesson.generate import generate as run
from vlesson.remote import local_only
from vlesson.sampling import ParamError, describe, make_sampling_params

if TYPE_CHECKING:
    from vllm import LLM

__all__ = [
    "command_line",
    "diagnose",
    "engine_args",
    "engine_fix",
    "focused_config",
    "override_defaults",
    "read_log",
    "split_settings",
]

FOCUS_PROMPT = "Write one word:"
"""A prompt the model likes to end early: only min_tokens makes it reach 150."""
FOCUS_SEEDS = (0, 1, 2)


def _parse_generate(argv: Sequence[str]) -> tuple[Any, Any]:
    """Parse argv with the real ``vlesson generate`` parser; AssertionError if not."""
    parser = settings.generate_parser()
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parser, settings.parse_with_config(parser, list(argv))
    except SystemExit:
        last = err.getvalue().strip().splitlines()[-1:] or ["(no message)"]
        raise AssertionError(f"the parser rejected it: {last[0]}") from None


# -- 1. Use command-line arguments effectively ---------------------------------------


@checkpoint("self-1")
def command_line(argv: str | Sequence[str]) -> str:
    """Check a ``vlesson generate`` command line for the task in notebook 07.

    The task: prompts "Once upon a time" and "In the future", temperature 0.8, at
    most 60 new tokens, weights in float32.
    """
    assert isinstance(argv, (str, list, tuple)), (
        f"command is a {type(argv).__name__}: write the command as one string"
    )
    words = shlex.split(argv) if isinstance(argv, str) else list(argv)
    if words[:1] == ["!"] or (words and words[0].startswith("!")):
        words[0] = words[0].lstrip("!")
        words = [w for w in words if w]
    if words[:2] == ["vlesson", "generate"]:
        words = words[2:]

    parser, args = _parse_generate(words)
    engine, sampling = settings.split_args(parser, args, settings.GENERATE_OWN_OPTIONS)
    prompts = args.prompt or []
    assert prompts == ["Once upon a time", "In the future"], (
        f"prompts are {prompts}: give each prompt its own --prompt, in order, and "
        "quote prompts with spaces"
    )
    assert sampling.get("temperature") == 0.8, (
        f"temperature is {sampling.get('temperature')}, the task asks for 0.8"
    )
    assert sampling.get("max_tokens") == 60, (
        f"max_tokens is {sampling.get('max_tokens')}: which option counts NEW tokens "
        "(the other one, --max-model-len, is the whole context)?"
    )
    assert engine.get("dtype") == "float32", (
        f"dtype is {engine.get('dtype')}: the weights' type is an engine option; "
        "look for it in --help"
    )
    return (
        "the real parser reads exactly what was asked: engine options and sampling "
        "options share one command line, and the parser sorts them out"
    )


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
ENGINE_FIELDS = (
    "model",
    "dtype",
    "max_model_len",
    "gpu_memory_utilization",
    "enforce_eager",
    "max_num_seqs",
)


@checkpoint("self-2")
def engine_args(fn: Callable[[list[str]], Any]) -> str:
    """Check ``fn(argv) -> EngineArgs`` built with vLLM's own parser on three lines."""
    from vllm import EngineArgs

    assert callable(fn), "pass your function itself: engine_args(engine_args_from_cli)"
    results = []
    for case in ENGINE_CASES:
        got = fn(list(case))
        assert isinstance(got, EngineArgs), (
            f"fn({list(case)}) returned {type(got).__name__}, not EngineArgs: the "
            "parsed Namespace is not the end - EngineArgs can be made from it"
        )
        results.append([getattr(got, field) for field in ENGINE_FIELDS])
    for case, got in zip(ENGINE_CASES, results):
        parser = flexible_argument_parser()()
        EngineArgs.add_cli_args(parser)
        want = EngineArgs.from_cli_args(parser.parse_args(list(case)))
        for field, value in zip(ENGINE_FIELDS, got):
            if value != getattr(want, field):
                raise AssertionError(
                    f"for {list(case) or 'no options'}, {field} is {value!r} but "
                    f"vLLM's parser gives {getattr(want, field)!r}: "
                    + _engine_args_hint(case, field, results)
                )
    return (
        "same EngineArgs as vLLM's own parser, defaults too: every engine option of "
        "the CLI is an EngineArgs field, so scripts never list them by hand"
    )


def _engine_args_hint(case: Sequence[str], field: str, results: list[list]) -> str:
    """The mistake behind a wrong field: argv ignored, an option given but lost, or
    a default set by hand."""
    if all(r == results[0] for r in results):
        return (
            "your function gives the same EngineArgs whatever argv says - parse the "
            "argv it is given"
        )
    flag = "--" + field.replace("_", "-")
    if flag in case:
        return (
            f"{flag} is on that command line but did not reach {field} - read every "
            "option back from the parsed argv"
        )
    return (
        f"{flag} is not on that command line, so vLLM's default applies - let vLLM "
        "add its own options to the parser and read them back, instead of setting "
        "fields by hand"
    )


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
        "seed": 7,
    },
)


def _sampling_fields() -> set[str]:
    from vllm import SamplingParams

    return {f for f in SamplingParams.__struct_fields__ if not f.startswith("_")}


@checkpoint("self-3")
def split_settings(
    fn: Callable[[dict[str, Any]], tuple[dict, dict]], guess: Any = None
) -> str:
    """Check ``fn(settings) -> (engine_kwargs, sampling_kwargs)`` on mixed dicts, and
    compare the learner's guess of a setting on both sides with the two classes.

    ``seed`` is a field of both: it must reach both sides.
    """
    from vllm import EngineArgs, SamplingParams

    assert callable(fn), "pass your function itself: split_settings(split_settings)"
    assert guess is None or isinstance(guess, str), (
        f"your guess is {guess!r}: write a setting's name (a str), or None"
    )
    engine_fields = {f.name for f in dataclasses.fields(EngineArgs)}
    sampling_fields = _sampling_fields()
    for case in SPLIT_CASES:
        result = fn(dict(case))
        assert isinstance(result, tuple) and len(result) == 2, (
            f"returned {type(result).__name__}: return two dicts, (engine, sampling)"
        )
        engine, sampling = result
        lost = set(case) - set(engine) - set(sampling)
        assert not lost, f"keys lost from {case}: {sorted(lost)} - keep every key"
        for key in engine:
            assert key in engine_fields, (
                f"{key!r} is in your engine dict, but it is not an EngineArgs field:"
                " it only means something to a request"
            )
        for key in sampling:
            assert key in sampling_fields, (
                f"{key!r} is in your sampling dict, but it configures the engine "
                "(SamplingParams has no such field)"
            )
        both = sorted(k for k in case if k in engine_fields and k in sampling_fields)
        for key in both:
            assert key in engine and key in sampling, (
                f"{key!r} went to one side only, but EngineArgs and SamplingParams "
                f"both have it: which side did it miss, and what would that side do "
                "without it?"
            )
        EngineArgs(**engine)  # both must really build
        SamplingParams(**sampling)
    return _compare_both(guess, engine_fields, sampling_fields) + (
        "EngineArgs and SamplingParams both accept them. seed is on both sides: the "
        "engine's seed sets its random state once at start, a request's seed makes "
        "that request repeat whatever else shares its batch; vLLM's parser already "
        "has --seed, so vlesson's CLI gives that one value to both"
    )


def _compare_both(guess: str | None, engine: set[str], sampling: set[str]) -> str:
    """Say how the learner's guess compares with the fields of both classes."""
    both = ", ".join(sorted(engine & sampling))
    if guess in engine & sampling:
        return f"You guessed {guess!r}: right, both classes have it (all: {both}). "
    if guess is None:
        return f"You guessed none; both classes have {both}. "
    side = (
        "only EngineArgs has it"
        if guess in engine
        else "only SamplingParams has it"
        if guess in sampling
        else "neither class has it"
    )
    return f"You guessed {guess!r}: {side}; both classes have {both}. "


# -- 4. Override default parameters selectively --------------------------------------

OVERRIDES = {"temperature": 0.3, "top_p": None, "max_tokens": 50, "top_k": None}
"""None means "not given": the model's default must stay."""


def _custom_defaults() -> Any:
    """Defaults unlike SamplingParams()'s, as a model's generation_config gives."""
    from vllm import SamplingParams

    return SamplingParams(temperature=0.6, top_p=0.9, top_k=40, repetition_penalty=1.1)


@checkpoint("self-4")
def override_defaults(fn: Callable[[Any, dict[str, Any]], Any], llm: LLM) -> str:
    """Check ``fn(defaults, overrides) -> SamplingParams`` on the engine's defaults
    and on defaults unlike ``SamplingParams()``'s (so ignoring them is caught on any
    model)."""
    from vllm import SamplingParams

    assert callable(fn), "pass your function itself: override_defaults(fn, llm)"
    cases = (
        (llm.get_default_sampling_params(), "this model's defaults"),
        (_custom_defaults(), "a test model's defaults (made up by the check)"),
    )
    for defaults, whose in cases:
        want = describe(defaults)
        want.update({k: v for k, v in OVERRIDES.items() if v is not None})
        before = repr(defaults)
        got = fn(defaults, dict(OVERRIDES))
        assert isinstance(got, SamplingParams), (
            f"returned {type(got).__name__}: return a SamplingParams"
        )
        assert repr(defaults) == before, (
            "the defaults object itself was changed: the caller's defaults must stay "
            "as they were (work on a copy)"
        )
        given = {k: v for k, v in OVERRIDES.items() if v is not None}
        fresh = describe(SamplingParams(**given))
        assert describe(got) != fresh or fresh == want, (
            f"with {whose} {describe(defaults)} your result is SamplingParams() plus "
            "the given values: the model's own defaults are gone - where did you start?"
        )
        for name, value in describe(got).items():
            if OVERRIDES.get(name, 0) is None:
                hint = "None means 'not given': the model's default must stay"
            elif name in OVERRIDES:
                hint = "set the values given"
            else:
                hint = (
                    "it was not given, so it must be the defaults' value - did you "
                    "start from SamplingParams() instead of the defaults?"
                )
            assert value == want[name], (
                f"with {whose} {describe(defaults)}, {name} is {value!r} but should "
                f"be {want[name]!r}: {hint}"
            )
    return (
        "given values set, everything else the model's own: a model's "
        "generation_config often sets temperature or top_p, and a script that starts "
        "from SamplingParams() silently drops them"
    )


# -- 5. Create reusable, configurable scripts ---------------------------------------


def _load_config(config: Mapping[str, Any] | str | Path) -> dict[str, Any]:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(config) if isinstance(config, (str, Path)) else Path(tmp, "c.json")
        if not isinstance(config, (str, Path)):
            path.write_text(json.dumps(dict(config)), encoding="utf-8")
        try:
            parser, args = _parse_generate(["--config", str(path)])
        except settings.UsageError as exc:
            raise AssertionError(f"the config does not load: {exc}") from None
    return settings.split_args(parser, args, settings.GENERATE_OWN_OPTIONS)[1]


@checkpoint("self-5")
def focused_config(config: Mapping[str, Any] | str | Path, llm: LLM) -> str:
    """Check a config (dict or JSON file) for exercise 2.5 with the real CLI and engine.

    The task: high-quality, focused output; exactly 150 tokens; top-k sampling. The
    settings are checked first; then one batched call with several seeds, on a
    prompt the model likes to end early, must give 150 tokens every time.
    """
    assert isinstance(config, (Mapping, str, Path)), (
        f"config is a {type(config).__name__}: write a dict (or a JSON file's path)"
    )
    sampling = _load_config(config)
    t, p, k = (sampling.get(n) for n in ("temperature", "top_p", "top_k"))
    assert t is not None and 0 < t <= 0.6, (
        f"temperature is {t}: focused means low (0 would be greedy, and then top-k "
        "sampling would not matter)"
    )
    assert p is not None and p <= 0.9, f"top_p is {p}: focused also means a low top_p"
    assert k == 20, f"top_k is {k}: the exercise asks for top-k sampling with k = 20"
    assert sampling.get("max_tokens") == 150, (
        f"max_tokens is {sampling.get('max_tokens')}: the exercise wants 150 tokens"
    )
    floor = sampling.get("min_tokens")
    assert (floor or 0) >= 150, (
        (
            f"min_tokens is {floor}: "
            if floor
            else "nothing stops the model from ending "
        )
        + "before 150 tokens: max_tokens is only a ceiling - what could end an output "
        "earlier, and which setting forbids that?"
    )
    params = [make_sampling_params(llm, {**sampling, "seed": s}) for s in FOCUS_SEEDS]
    gens = run(llm, [FOCUS_PROMPT] * len(params), params, use_tqdm=False)
    short = [g for g in gens if g.num_tokens != 150]
    assert not short, (
        f"{len(short)} of {len(gens)} seeded runs gave {short[0].num_tokens} tokens "
        f"(finish_reason={short[0].finish_reason})"
    )
    return (
        f"{len(gens)} seeded runs, 150 tokens each, at T={t}, top_k={k}: max_tokens "
        "caps an output, only min_tokens makes it that long"
    )


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


@checkpoint("self-6")
def diagnose(fn: Callable[[Any, dict[str, Any]], str | None], llm: LLM) -> str:
    """Check ``fn(llm, config) -> name of the bad key, or None`` against the engine."""
    assert callable(fn), "pass your function itself: diagnose(diagnose, llm)"
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
                f"for {config} your function raised ParamError({exc}) instead of "
                "returning: a diagnosis names the key, it does not stop the program"
            ) from None
        assert got == want, (
            f"for {config} you returned {got!r}, but this engine's validation "
            f"answers {want!r} ({message})"
        )
    return (
        f"{len(BROKEN_CONFIGS)} configs named right: the engine's own validation is "
        "the one source of truth, and its error names the key"
    )


ENGINE_GUESSES = ("starts", "refuses to start", "fails at the first long prompt")
"""What the learner may predict of the engine of task 6b."""


@checkpoint("self-6")
def engine_fix(
    culprit: str, fix: Mapping[str, Any], llm: LLM, guess: Any = None
) -> str:
    """Check the diagnosis of an engine that does not start: a max_model_len its KV
    cache cannot hold. ``culprit``: the option at fault; ``fix``: engine options that
    make it start (checked against this engine's KV cache per token); ``guess``: the
    learner's prediction, one of ``ENGINE_GUESSES``."""
    assert guess is None or guess in ENGINE_GUESSES, (
        f"your guess is {guess!r}: write one of {', '.join(map(repr, ENGINE_GUESSES))}"
    )
    culprit = str(culprit).lstrip("-").replace("-", "_")
    assert culprit in ("max_model_len", "kv_cache_memory_bytes"), (
        f"culprit {culprit!r}: read the engine's error again - which two numbers "
        "does it compare?"
    )
    assert isinstance(fix, Mapping) and fix, "fix is empty: write a dict of options"
    fix = {str(k).lstrip("-").replace("-", "_"): v for k, v in fix.items()}
    unknown = set(fix) - {"max_model_len", "kv_cache_memory_bytes"}
    assert not unknown, (
        f"{sorted(unknown)} would not make this engine start: the error is about the "
        "context length and the KV cache's size"
    )
    facts = engine_facts(llm)
    if facts.kv_cache_bytes and facts.kv_cache_tokens:
        per_token = facts.kv_cache_bytes / facts.kv_cache_tokens
    else:  # classroom mode: the cache lives on the server; SmolLM2 in float32, the
        per_token = 2 * 30 * 3 * 64 * 4  # larger, so a fix that fits holds in bf16 too
    length = int(fix.get("max_model_len", BROKEN_ENGINE["max_model_len"]))
    memory = int(
        fix.get("kv_cache_memory_bytes", BROKEN_ENGINE["kv_cache_memory_bytes"])
    )
    holds = int(memory // per_token)
    assert length <= holds, (
        f"with max_model_len={length} and kv_cache_memory_bytes={memory:,} the cache "
        f"holds about {holds:,} tokens: one full-length request still does not fit"
    )
    assert length >= 256, f"max_model_len={length}: a context that small is no fix"
    said = ""
    if guess is not None:
        said = f"You guessed {guess!r}: " + (
            "right, it refused to start. "
            if guess == "refuses to start"
            else "it refused to start instead. "
        )
    return said + (
        f"one request of {length:,} tokens fits in a KV cache of about {holds:,}: "
        "the engine refuses at start-up, not at the first long prompt, because it "
        "sizes the cache once"
    )


BROKEN_ENGINE = {"max_model_len": 8192, "kv_cache_memory_bytes": 32 * 2**20}
"""The engine of task 6b: 32 MiB of KV cache cannot hold 8,192 tokens of SmolLM2."""


# -- 7. Read and understand vLLM logs -----------------------------------------------

SAMPLE_LOG = (
    "INFO 11-26 20:52:20 [model.py:2152] Using max model len 2048\n"
    "INFO 11-26 20:52:21 [default_loader.py:501] Loading weights took 0.42 seconds\n"
    "INFO 11-26 20:52:27 [kv_cache_utils.py:2327] CPU KV cache size: 1,234,567 "
    "tokens, Maximum concurrency for 2,048 tokens per request: 602.82x\n"
)
"""Made-up lines in vLLM's format, so a hard-coded answer fails."""
SAMPLE_FACTS = {
    "max_model_len": 2048,
    "weights_seconds": 0.42,
    "kv_cache_tokens": 1234567,
    "max_concurrency": 602.82,
}
_WEIGHTS = re.compile(r"Loading weights took ([\d.]+) seconds")


def _weights_seconds(log_text: str) -> float | None:
    found = _WEIGHTS.search(log_text)
    return float(found.group(1)) if found else None


@checkpoint("self-7")
def read_log(fn: Callable[[str], Mapping[str, Any]], log_text: Any, llm: LLM) -> str:
    """Check ``fn(log) -> {"max_model_len", "weights_seconds", "kv_cache_tokens",
    "max_concurrency"}`` on the start-up log the learner captured and on a made-up one."""
    assert callable(fn), "pass your function itself: read_log(read_start_up, log, llm)"
    if not isinstance(log_text, str):  # IPython's SList from `log = !cmd`
        log_text = "\n".join(log_text)
    if is_remote(llm):  # classroom mode: the start-up log is on the server
        _check_log_reader(fn, [(SAMPLE_LOG, SAMPLE_FACTS)])
        return "passed on sample lines only. " + local_only(
            "Reading the engine's start-up log", llm.server
        )
    last = (log_text.strip().splitlines() or ["(empty)"])[-1]
    assert "KV cache size" in log_text, (
        "this log has no 'KV cache size' line: vLLM writes its start-up at INFO "
        "level, and vlesson turns that down - set VLLM_LOGGING_LEVEL=INFO for that "
        f"one command (or add --verbose). Its last line: {last}"
    )
    facts = engine_facts(llm)
    real = {
        "max_model_len": facts.max_model_len,
        "weights_seconds": _weights_seconds(log_text),
        "kv_cache_tokens": facts.kv_cache_tokens,
        "max_concurrency": facts.max_concurrency,
    }
    _check_log_reader(fn, [(log_text, real), (SAMPLE_LOG, SAMPLE_FACTS)])
    return (
        f"context {facts.max_model_len:,} tokens, weights loaded in "
        f"{real['weights_seconds']} s, {facts.kv_cache_tokens:,} tokens of KV cache: "
        f"{facts.max_concurrency:.2f} requests of full context length fit at once - "
        "the figures to read first when an engine is slow to start or refuses"
    )


def _check_log_reader(
    fn: Callable[[str], Mapping[str, Any]], cases: list[tuple[str, dict[str, Any]]]
) -> None:
    for text, want in cases:
        got = fn(text)
        assert isinstance(got, Mapping), (
            f"returned {type(got).__name__}: return a dict with the keys {sorted(want)}"
        )
        for key, value in want.items():
            if value is None:  # this log does not say
                continue
            mine = got.get(key)
            assert isinstance(mine, (int, float)) and math.isclose(
                mine,
                value,
                rel_tol=1e-4,
                abs_tol=0.006,  # the log rounds to 0.01
            ), f"{key} is {mine!r}, but it should be {value}: " + _log_hint(
                mine, value, [w[key] for t, w in cases if t is not text]
            )


def _log_hint(mine: Any, value: float, others: list[Any]) -> str:
    """The mistake behind a wrong figure: a string, a number cut at a thousands
    separator, a figure of another log (hard-coded), or the wrong line."""
    if mine is None:
        return "your dict has no number for it - find its line and read it"
    if isinstance(mine, str):
        return "read the number from its line, as a number (not a string)"
    whole = isinstance(mine, (int, float)) and float(mine).is_integer()
    if value >= 1000 and whole and str(int(mine)) in f"{value:,}".split(","):
        return (
            f"vLLM writes {value:,} with thousands separators, and your number stops "
            "at one of them - take the commas out before converting"
        )
    if mine in others:
        return "read it from the text you are given, not from one log"
    return "read it from its own line of the text you are given"
