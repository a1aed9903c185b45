"""Notebook 01: checks of exercises 2.2, 2.3, 2.4, 2.7, 2.8 and 2.15.

The learner writes plain vLLM (``SamplingParams``, ``llm.generate``,
``FlexibleArgumentParser``); the checks run it against the real parser and engine.
"""

from __future__ import annotations

import argparse
import contextlib
import io
import json
import math
import tempfile
import warnings
from collections import Counter
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlesson.compat import (
    flexible_argument_parser,
    quantization_methods,
    validation_errors,
)
from vlesson.exercises.grading import NotAttempted, checkpoint
from vlesson.exercises.recording import Recorder
from vlesson.files import read_jsonl
from vlesson.generate import LESSON_PROMPTS, from_request_output

if TYPE_CHECKING:
    import pandas as pd
    from vllm import LLM

__all__ = [
    "generate_output",
    "help_answers",
    "length_runs",
    "load_config",
    "prompt_option",
    "temperature_sweep",
    "validate_args",
]


def course_parser() -> argparse.ArgumentParser:
    """The parser of the course's ``text_generation.py``: vLLM's engine options plus a
    "Sampling parameters" group, all sampling options defaulting to None."""
    from vllm import EngineArgs

    parser = flexible_argument_parser()()
    EngineArgs.add_cli_args(parser)
    parser.set_defaults(model="facebook/opt-125m")
    group = parser.add_argument_group("Sampling parameters")
    group.add_argument("--max-tokens", type=int)
    group.add_argument("--temperature", type=float)
    group.add_argument("--top-p", type=float)
    group.add_argument("--top-k", type=int)
    return parser


def _titled_groups(parser: argparse.ArgumentParser) -> list[str]:
    return [g.title for g in parser._action_groups if g._group_actions]


# -- 2.2 the help system -----------------------------------------------------------


@checkpoint("2.2")
def help_answers(answers: Mapping[str, Any]) -> str:
    """Check what the learner read in ``python text_generation.py --help``: the number
    of argument groups, the default of --gpu-memory-utilization, whether awq is one of
    vLLM's quantization methods."""
    assert isinstance(answers, Mapping), "write a dict with the three answers"
    parser = course_parser()
    titles = _titled_groups(parser)
    gpu = parser.get_default("gpu_memory_utilization")
    got = answers.get("groups")
    assert got == len(titles), (
        f"groups is {got!r}: count the names listed under 'Config Groups:' at the end "
        "of the help again"
    )
    assert answers.get("gpu_memory_utilization") == gpu, (
        f"gpu_memory_utilization is {answers.get('gpu_memory_utilization')!r}: read "
        "the default YOUR vLLM prints (the sheet was written for another version; "
        "--help=gpu-memory-utilization shows one option)"
    )
    awq = "awq" in quantization_methods()
    assert answers.get("awq") is awq, (
        f"awq is {answers.get('awq')!r}: the help does not list the methods; vLLM "
        "keeps them in one list - is 'awq' in it? (True or False)"
    )
    return (
        f"{len(titles)} groups, one per vLLM config class plus the script's own; the "
        f"default {gpu} comes from the installed vLLM, so its help is the truth, not "
        "a course sheet"
    )


# -- the learner's one batched call -------------------------------------------------


def _batched(recorder: Recorder, outputs: Any, requests: int) -> tuple[list, list]:
    """Return the prompts and SamplingParams of the learner's one batched call."""
    call = recorder.only_call(
        ": vLLM batches best when one call gets every request, each with its own "
        "SamplingParams",
        never=" (use the llm it is given)",
    )
    prompts, params = call.prompt_list, call.params_list()
    assert isinstance(outputs, list) and len(outputs) == len(prompts), (
        f"returned {type(outputs).__name__}: return what llm.generate returned"
    )
    assert len(prompts) == requests, (
        f"{len(prompts)} requests, but every prompt at every value is {requests}"
    )
    shared = len({id(p) for p in params}) == 1 and len(params) > 1
    assert not shared, (
        "every request got the same SamplingParams object: each request needs its "
        "own settings"
    )
    return prompts, params


# -- 2.3 temperature ---------------------------------------------------------------

TEMPERATURES = (0.0, 0.5, 1.0, 1.5, 2.0)


NONSENSE_LOGPROB = -3.0
"""A mean log-probability below this is worse than a 1-in-20 guess per token."""


@checkpoint("2.3")
def temperature_sweep(
    fn: Callable[..., Any], llm: LLM, guess: Any = None
) -> tuple[str, pd.DataFrame]:
    """Check ``fn(llm, prompts, temperatures) -> list[RequestOutput]``: one batched
    call, every prompt at every temperature, seeded, with the chosen tokens'
    log-probabilities; show the learner's own measurements, and compare them with
    the learner's guess (the first temperature where the text stops making sense)."""
    import pandas as pd

    assert callable(fn), "pass your function itself: temperature_sweep(fn, llm)"
    assert guess is None or (
        isinstance(guess, (int, float)) and not isinstance(guess, bool)
    ), f"your guess is {guess!r}: write a temperature, a number such as 1.2"
    recorder = Recorder(llm)
    outputs = fn(recorder, list(LESSON_PROMPTS), list(TEMPERATURES))
    prompts, params = _batched(
        recorder, outputs, len(LESSON_PROMPTS) * len(TEMPERATURES)
    )
    pairs = Counter((p, sp.temperature) for p, sp in zip(prompts, params))
    want = Counter((p, t) for t in TEMPERATURES for p in LESSON_PROMPTS)
    assert pairs == want, (
        "the requests do not cover each prompt once at each temperature: pair every "
        "prompt with every temperature"
    )
    assert all(sp.seed is not None for sp in params), (
        "a request has no seed: run it twice and it says something else - how will "
        "you compare temperatures fairly?"
    )
    assert all(sp.logprobs is not None for sp in params), (
        "no log-probabilities were asked for, so 'nonsensical' cannot be measured: "
        "which SamplingParams field returns them?"
    )
    assert all(24 <= sp.max_tokens <= 64 for sp in params), (
        f"max_tokens is {params[0].max_tokens}: about 48 tokens per output is enough "
        "to judge (and keeps the run short)"
    )
    rows = [
        {"temperature": sp.temperature, **_row(out, sp)}
        for out, sp in zip(outputs, params)
    ]
    table = pd.DataFrame(rows).groupby("temperature")[["mean_logprob", "num_tokens"]]
    table = table.mean()
    return (
        _compare_temperature(guess, table)
        + "one batched call, seeded and measured: the model's own log-probability of "
        "what it wrote tells fluent from noise better than reading",
        table,
    )


def _compare_temperature(guess: float | None, table: pd.DataFrame) -> str:
    """Say how the learner's guessed temperature compares with their run."""
    if guess is None:
        return ""
    low = table.index[table["mean_logprob"] < NONSENSE_LOGPROB]
    if not len(low):
        return (
            f"You guessed T={guess}; in your run the mean log-probability stays above "
            f"{NONSENSE_LOGPROB:g} up to T={table.index.max():g}. "
        )
    first = float(low[0])
    how = (
        "as you guessed"
        if math.isclose(first, guess)
        else ("earlier" if first < guess else "later")
        + " than you guessed"
    )
    return (
        f"You guessed T={guess}; in your run the mean log-probability first falls "
        f"below {NONSENSE_LOGPROB:g} (worse than a 1-in-20 guess per token) at "
        f"T={first:g}, {how}. "
    )


def _row(output: Any, params: Any) -> dict[str, Any]:
    gen = from_request_output(output, params, 0.0)
    return {
        "prompt": gen.prompt,
        "text": gen.text,
        "num_tokens": gen.num_tokens,
        "finish_reason": gen.finish_reason,
        "mean_logprob": gen.mean_logprob,
    }


# -- 2.4 max tokens ----------------------------------------------------------------

LIMITS = (10, 100, 500)


@checkpoint("2.4")
def length_runs(
    fn: Callable[..., Any], llm: LLM, guess: Any = None
) -> tuple[str, pd.DataFrame]:
    """Check ``fn(llm, prompts, limits) -> list[RequestOutput]``: one batched greedy
    call, every prompt at every max_tokens; show how long each output really is, and
    compare with the learner's guess (does a high max_tokens always give that many?)."""
    import pandas as pd

    assert callable(fn), "pass your function itself: length_runs(fn, llm)"
    assert guess is None or isinstance(guess, bool), (
        f"your guess is {guess!r}: write True or False"
    )
    recorder = Recorder(llm)
    outputs = fn(recorder, list(LESSON_PROMPTS), list(LIMITS))
    _prompts, params = _batched(recorder, outputs, len(LESSON_PROMPTS) * len(LIMITS))
    limits = Counter(sp.max_tokens for sp in params)
    assert limits == Counter({n: len(LESSON_PROMPTS) for n in LIMITS}), (
        f"the requests' max_tokens are {dict(limits)}: "
        + (
            "16 is SamplingParams()'s own default - the limit was never set"
            if 16 in limits
            else "each prompt once at each limit"
        )
    )
    assert all(sp.temperature == 0 for sp in params), (
        "sampling is random here: with temperature above 0 the lengths change from "
        "run to run; which temperature makes the runs comparable?"
    )
    rows = [
        {"max_tokens": sp.max_tokens, **_row(out, sp)}
        for out, sp in zip(outputs, params)
    ]
    table = pd.DataFrame(rows)
    cut = table[table.finish_reason == "length"]
    assert (cut.num_tokens == cut.max_tokens).all()  # vLLM's own contract
    pivot = table.pivot(
        index="prompt", columns="max_tokens", values=["num_tokens", "finish_reason"]
    )
    return (
        _compare_lengths(guess, table)
        + (
            "max_tokens is a ceiling: an output ends at the model's end-of-sequence token "
            "(finish_reason 'stop') or at the limit ('length'), whichever comes first"
        ),
        pivot,
    )


def _compare_lengths(guess: bool | None, table: pd.DataFrame) -> str:
    """Say how the learner's guess compares with the run at the highest limit."""
    if guess is None:
        return ""
    top = table[table.max_tokens == max(LIMITS)]
    early = top[top.finish_reason == "stop"]
    said = f"You guessed {guess}; "
    if len(early):
        verdict = "right" if guess is False else "not so"
        return (
            f"{said}{verdict}: at max_tokens={max(LIMITS)}, {len(early)} of "
            f"{len(top)} outputs stopped early (finish_reason 'stop', at "
            f"{', '.join(map(str, sorted(early.num_tokens)))} tokens). "
        )
    verdict = "right here" if guess else "not in this run"
    return (
        f"{said}{verdict}: all {len(top)} outputs reached max_tokens={max(LIMITS)} "
        "(no end-of-sequence came first). "
    )


# -- 2.7 a configuration file -------------------------------------------------------


def _random_config(seed: int) -> dict[str, Any]:
    return {
        "model": f"my-org/model-{seed}",
        "temperature": round(0.1 + 0.07 * seed, 2),
        "top_p": 0.9 - 0.01 * seed,
        "max_tokens": 40 + seed,
    }


@checkpoint(
    "2.7",
    refuse=("vlesson.settings.load_config", "vlesson.settings.parse_with_config"),
)
def load_config(fn: Callable[[Any, str], Any]) -> str:
    """Check ``fn(parser, path)``: the JSON file's values become the parser's
    defaults, so the command line still wins."""
    assert callable(fn), "pass your function itself: load_config(load_config)"
    with tempfile.TemporaryDirectory() as tmp:
        for seed in (3, 5):
            config = _random_config(seed)
            path = Path(tmp, f"config{seed}.json")
            path.write_text(json.dumps(config), encoding="utf-8")
            parser = course_parser()
            fn(parser, str(path))
            args = _parse(parser, [])
            for key, value in config.items():
                got = getattr(args, key, None)
                assert got == value, (
                    f"after load_config, parse_args([]) gives {key}={got!r} but the "
                    f"file says {value!r}: the file's values should become the "
                    "parser's defaults"
                )
            args = _parse(parser, ["--temperature", "1.3", "--model", "cli-model"])
            assert (args.temperature, args.model) == (1.3, "cli-model"), (
                f"with --temperature 1.3 on the command line, temperature is "
                f"{args.temperature}: the command line must win over the file"
            )
    return (
        "the file sets defaults and the command line still wins: one config per "
        "experiment, and a flag to try one change"
    )


def _parse(parser: argparse.ArgumentParser, argv: list[str]) -> argparse.Namespace:
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            return parser.parse_args(argv)
    except SystemExit:
        last = (err.getvalue().strip().splitlines() or ["?"])[-1]
        raise AssertionError(f"after load_config the parser fails: {last}") from None


# -- 2.8 several prompts ------------------------------------------------------------


@checkpoint("2.8")
def prompt_option(fn: Callable[[Any], Any]) -> str:
    """Check ``fn(parser)`` adds a --prompt option that collects a list."""
    assert callable(fn), "pass your function itself: prompt_option(add_prompt_option)"
    parser = course_parser()
    fn(parser)
    two = _parse(parser, ["--prompt", "Once upon a time", "--prompt", "In the future"])
    got = getattr(two, "prompt", None)
    assert got == ["Once upon a time", "In the future"], (
        f"--prompt 'Once upon a time' --prompt 'In the future' gives prompt={got!r}:"
        " each --prompt should add one prompt to a list"
    )
    one = _parse(parser, ["--prompt", "Hi"])
    assert one.prompt == ["Hi"], f"one --prompt gives {one.prompt!r}, not ['Hi']"
    none = _parse(parser, [])
    assert not none.prompt, f"without --prompt, prompt is {none.prompt!r}"
    return (
        "action='append' collects one value per flag: the script falls back to its "
        "four lesson prompts when none is given"
    )


@checkpoint("2.8")
def generate_output(path: str | Path, config: Mapping[str, Any]) -> str:
    """Check the JSON lines that the learner's ``vlesson generate --config ...
    --prompt ... --prompt ... --output PATH`` command wrote."""
    path = Path(path)
    if not path.exists():
        raise NotAttempted(f"{path.name} is not there yet: run your command first")
    rows = read_jsonl(path)
    prompts = [r.get("prompt") for r in rows]
    assert prompts == ["Once upon a time", "In the future"], (
        f"the file holds the prompts {prompts}: one --prompt per prompt, quoted, in "
        "order"
    )
    for key in ("temperature", "top_p"):
        used = {r["params"].get(key) for r in rows}
        assert used == {config[key]}, (
            f"{key} was {sorted(used)} but the config says {config[key]}: was the "
            "config file passed?"
        )
    limit = config["max_tokens"]
    assert all(r["num_tokens"] <= limit for r in rows), f"more than {limit} tokens"
    return (
        "the real command read the file, took both prompts and wrote one JSON line "
        "per completion: a batch job in one line of shell"
    )


# -- 2.15 validation ----------------------------------------------------------------

VALIDATION_CASES: tuple[dict[str, Any], ...] = (
    {"temperature": 0.7, "top_p": 0.9, "max_tokens": 64},
    {"temperature": -0.5},
    {"top_p": 1.5},
    {"top_p": 0.0},
    {"top_k": -5},
    {"max_tokens": 0},
    {"temprature": 0.7},
    {"temperature": 0.0, "top_k": 0},
)
"""The learner's function must reject exactly what vLLM's SamplingParams rejects."""


def _sampling_fields() -> set[str]:
    from vllm import SamplingParams

    return set(SamplingParams.__struct_fields__)


def _vllm_rejects(case: Mapping[str, Any]) -> str | None:
    from vllm import SamplingParams

    try:
        SamplingParams(**case)
    except (*validation_errors(), TypeError) as exc:
        return str(exc)
    return None


@checkpoint("2.15", refuse=("vlesson.sampling.validate",))
def validate_args(fn: Callable[[dict[str, Any]], Any]) -> str:
    """Check ``fn(args) -> args``: raise ValueError naming the parameter and the value
    where vLLM would refuse, pass valid settings through, warn (not fail) on a very
    high max_tokens."""
    assert callable(fn), "pass your function itself: validate_args(validate_args)"
    for case in VALIDATION_CASES:
        refusal = _vllm_rejects(case)
        try:
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                result = fn(dict(case))
        except (*validation_errors(), TypeError) as exc:
            assert refusal, f"{case} is valid for vLLM, but your function raised: {exc}"
            key = next(iter(case)) if len(case) == 1 else None
            said = str(exc)
            assert key is None or key in said, (
                f"for {case} the message is {said!r}: name the parameter ({key}), "
                "so the user knows what to fix"
            )
            typo = key is not None and key not in _sampling_fields()
            assert key is None or typo or str(case[key]) in said, (
                f"for {case} the message is {said!r}: say the value received too"
            )
            continue
        assert not refusal, (
            f"{case} passed your function, but vLLM refuses it ({refusal}): raise "
            "ValueError for it"
        )
        assert result == case, (
            f"for the valid {case} your function returned {result!r}: return the "
            "settings unchanged"
        )
    _check_warns(fn)
    return (
        "your rules agree with vLLM's on every case, and the message says what to fix: "
        "the error reaches the user before the model loads"
    )


def _check_warns(fn: Callable[[dict[str, Any]], Any]) -> None:
    out = io.StringIO()
    with (
        warnings.catch_warnings(record=True) as caught,
        contextlib.redirect_stdout(out),
    ):
        warnings.simplefilter("always")
        try:
            fn({"max_tokens": 5000})
        except ValueError as exc:
            raise AssertionError(
                f"max_tokens=5000 raised ({exc}): it is allowed, only slow - warn"
            ) from None
    said = " ".join(str(w.message) for w in caught) + out.getvalue()
    assert said.strip(), (
        "max_tokens=5000 passed silently: the sheet asks for a warning that it may be "
        "slow"
    )
