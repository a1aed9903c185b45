"""Checks of notebooks 04 (batch 2.9, sweep 2.10) and 04b (run log 2.11, cache 2.14).

Each grades the learner's function against the real engine (through a ``Recorder``
that sees every ``llm.generate`` call) or the files it wrote.
"""

from __future__ import annotations

import csv
import datetime as dt
import inspect
import io
import itertools
import json
import math
import re
import tempfile
from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

from vlesson.exercises.grading import checkpoint
from vlesson.exercises.recording import Recorder
from vlesson.workflows.sweep import recommend, summary

__all__ = ["batch_files", "cache_key", "result_cache", "run_log", "sweep", "sweep_pick"]

# -- 2.9 batch processing -------------------------------------------------------------

BATCH_LINES = (
    "# prompts for the batch check",
    "The capital of France is",
    "",
    "../../escape",
    "The capital of France is",
    "Once upon a time",
)
"""A prompts file with a comment, a blank line, a path-like prompt and a duplicate."""
BATCH_PROMPTS = [line for line in BATCH_LINES if line and not line.startswith("#")]


def _one_call(rec: Recorder, requests: int, what: str) -> Any:
    return rec.only_call(
        f" for {requests} {what}: vLLM batches only what it gets in one call - "
        "collect them first, call once"
    )


@checkpoint("2.9")
def batch_files(fn: Callable[..., Any], llm: Any) -> str:
    """Check ``fn(llm, prompts_file, out_dir, params) -> list of paths`` (2.9)."""
    from vllm import SamplingParams

    with tempfile.TemporaryDirectory(prefix="vlesson-check-") as tmp:
        root = Path(tmp)
        src = root / "prompts.txt"
        src.write_text("\n".join(BATCH_LINES) + "\n", encoding="utf-8")
        out = root / "a" / "b" / "c" / "out"  # "../../escape" stays inside tmp
        rec = Recorder(llm)
        written = fn(rec, src, out, SamplingParams(temperature=0, max_tokens=8))
        call = _one_call(rec, len(BATCH_PROMPTS), "prompts")
        _check_batch_prompts(call.prompt_list)
        texts = [o.outputs[0].text for o in call.outputs]
        stray = [
            p.relative_to(root).as_posix()
            for p in root.rglob("*")
            if p.is_file() and p != src and not p.is_relative_to(out)
        ]
        assert not stray, (
            f"a file was written outside out_dir: {stray[0]} - a prompt such as "
            "'../../escape' must never become a path; name files by line number"
        )
        files = sorted(p for p in out.rglob("*") if p.is_file())
        assert len(files) >= len(BATCH_PROMPTS), (
            f"{len(files)} files in out_dir for {len(BATCH_PROMPTS)} prompts: the "
            "prompt 'The capital of France is' is on two lines - two lines need two "
            "files, so a name made from the prompt text overwrites one"
        )
        _check_batch_paths(written, out, texts)
    return (
        f"{len(BATCH_PROMPTS)} prompts, one generate call, one file each inside "
        "out_dir: the model loads once and vLLM schedules all prompts together"
    )


def _check_batch_prompts(sent: list[Any]) -> None:
    assert all(isinstance(p, str) for p in sent), (
        f"the prompts sent were {sent[:2]}...: send a list of str"
    )
    assert not any(p.endswith("\n") for p in sent), (
        "a prompt ends with '\\n': strip each line, or the model sees the newline"
    )
    assert "" not in [p.strip() for p in sent], "a blank line was sent as a prompt"
    assert not any(p.startswith("#") for p in sent), (
        "a '# comment' line was sent as a prompt: skip lines that start with #"
    )
    assert sent == BATCH_PROMPTS, (
        f"the prompts sent were {sent}, the file's prompts are {BATCH_PROMPTS}: "
        "keep every prompt line, duplicates too, in file order"
    )


def _check_batch_paths(written: Any, out: Path, texts: list[str]) -> None:
    assert isinstance(written, Sequence) and not isinstance(written, str), (
        f"your function returned {type(written).__name__}: return the list of the "
        "files written, one per prompt, in order"
    )
    paths = [Path(p) for p in written]
    assert len(paths) == len(texts), (
        f"it returned {len(paths)} paths for {len(texts)} prompts: one per prompt"
    )
    for number, (path, text) in enumerate(zip(paths, texts, strict=True), 1):
        assert path.is_file(), f"returned path {path} does not exist"
        content = path.read_text(encoding="utf-8")
        assert text in content, (
            f"file {path.name} (prompt {number}) does not hold that prompt's "
            "completion: outputs come back in the order of the prompts"
        )


# -- 2.10 parameter sweep -------------------------------------------------------------

SWEEP_TEMPERATURES = (0.3, 0.7, 1.1)
SWEEP_TOP_PS = (0.5, 0.95)
SWEEP_SEED = 1234
SWEEP_MAX_TOKENS = 6


@checkpoint("2.10")
def sweep(fn: Callable[..., Any], llm: Any) -> str:
    """Check ``fn(llm, prompt, temperatures, top_ps, max_tokens=, seed=)`` (2.10)."""
    rec = Recorder(llm)
    rows = fn(
        rec,
        "The future of AI is",
        list(SWEEP_TEMPERATURES),
        list(SWEEP_TOP_PS),
        max_tokens=SWEEP_MAX_TOKENS,
        seed=SWEEP_SEED,
    )
    grid = list(itertools.product(SWEEP_TEMPERATURES, SWEEP_TOP_PS))
    call = _one_call(rec, len(grid), "settings")
    params = call.sampling_params
    assert isinstance(params, Sequence), (
        "one SamplingParams went with every prompt: each setting needs its own - "
        "pass a list of SamplingParams, one per request"
    )
    _check_sweep_params(list(params), grid)
    by_setting = {
        (p.temperature, p.top_p): o.outputs[0].text
        for p, o in zip(params, call.outputs, strict=False)
    }
    _check_sweep_rows(rows, by_setting)
    return (
        f"{len(grid)} settings in one call with one seed: rows differ only by their "
        "settings, and vLLM ran them as one batch"
    )


def _check_sweep_params(params: list[Any], grid: list[tuple[float, float]]) -> None:
    got = [(p.temperature, p.top_p) for p in params]
    assert len(got) == len(grid), (
        f"{len(got)} SamplingParams for {len(SWEEP_TEMPERATURES)} temperatures x "
        f"{len(SWEEP_TOP_PS)} top_p values: every temperature goes with every top_p "
        "(zip pairs them up one to one)"
    )
    missing = sorted(set(grid) - set(got))
    assert not missing, (
        f"the setting temperature={missing[0][0]}, top_p={missing[0][1]} is missing "
        f"(you sent {sorted(set(got))}); use the values you were given"
    )
    seeds = {p.seed for p in params}
    assert seeds != {None}, (
        "no seed: then two settings also differ by chance, and a rerun gives other "
        "text - pass the seed you were given"
    )
    assert len(seeds) == 1, (
        f"the requests have {len(seeds)} different seeds: with one seed for all, "
        "two rows differ only by their settings"
    )
    assert seeds == {SWEEP_SEED}, (
        f"seed is {seeds.pop()}, the argument was {SWEEP_SEED}"
    )
    lengths = {p.max_tokens for p in params}
    assert lengths == {SWEEP_MAX_TOKENS}, (
        f"max_tokens is {sorted(lengths, key=str)}, the argument was {SWEEP_MAX_TOKENS}"
        " (SamplingParams' own default is 16)"
    )


def _check_sweep_rows(rows: Any, by_setting: dict[tuple[float, float], str]) -> None:
    if hasattr(rows, "to_dict"):  # a DataFrame
        rows = rows.to_dict("records")
    assert isinstance(rows, Sequence) and len(rows) == len(by_setting), (
        f"return one row per setting ({len(by_setting)}), each a dict with "
        "temperature, top_p and text"
    )
    for row in rows:
        assert isinstance(row, Mapping) and {"temperature", "top_p", "text"} <= set(
            row
        ), f"a row is {row!r}: give each row the keys temperature, top_p and text"
        setting = (row["temperature"], row["top_p"])
        assert row["text"] == by_setting.get(setting), (
            f"the row temperature={setting[0]}, top_p={setting[1]} holds the text of "
            "another setting: llm.generate returns outputs in the order of the params"
            " list - pair them in that order"
        )


@checkpoint("2.10")
def sweep_pick(pick: Any, table: Any) -> str:
    """Check the learner's pick for the goal "diverse" from their sweep's table (one
    row per output, as ``vl.sweep.run`` returns it) against ``vl.sweep.recommend``'s
    answer on the same table."""
    means, recommendation = summary(table), recommend(table, "diverse")
    assert isinstance(pick, Mapping) and {"temperature", "top_p"} <= set(pick), (
        f"your pick is {pick!r}: write a dict with the keys temperature and top_p"
    )
    rows = _rows(means, pick)
    assert len(rows) == 1, (
        f"temperature={pick['temperature']}, top_p={pick['top_p']} is not one of the "
        "combinations of your table: pick a row of it"
    )
    best = recommendation.params
    if all(math.isclose(pick[k], best[k]) for k in ("temperature", "top_p")):
        return (
            f"{recommendation.reason}. A 'best' setting exists only for a stated goal: "
            "the coherent goal picks another row of the same table"
        )
    row, won = rows.iloc[0], _rows(means, best).iloc[0]
    low, loops = (
        recommendation.coherent["min_mean_logprob"],
        recommendation.coherent["max_repetition"],
    )
    what = f"temperature={pick['temperature']}, top_p={pick['top_p']}"
    assert row["mean_logprob"] >= low, (
        f"{what} has mean_logprob {row['mean_logprob']:.2f}, below {low}: the model "
        "itself finds that text unlikely (noise); only coherent rows compete"
    )
    assert row["repetition"] <= loops, (
        f"{what} has repetition {row['repetition']:.2f}, above {loops}: it loops; "
        "only coherent rows compete"
    )
    assert row["distinct_2"] >= won["distinct_2"], (
        f"{what} has distinct_2 {row['distinct_2']:.3f}, but a coherent row has "
        f"{won['distinct_2']:.3f}: among the coherent rows the highest distinct_2 wins"
    )
    raise AssertionError(
        f"{what} ties on distinct_2 ({row['distinct_2']:.3f}) with other coherent rows: "
        "the tie goes to the boldest, the lowest mean_logprob (yours is "
        f"{row['mean_logprob']:.2f}, another is {won['mean_logprob']:.2f})"
    )


def _rows(means: Any, params: Mapping[str, Any]) -> Any:
    """The rows of means with these temperature and top_p."""
    chosen = means
    for name in ("temperature", "top_p"):
        value = params[name]
        number = isinstance(value, int | float) and not isinstance(value, bool)
        assert number, f"{name} is {value!r}: write the number from the table"
        chosen = chosen[chosen[name].map(lambda v, x=value: math.isclose(v, x))]
    return chosen


# -- 2.11 logging ---------------------------------------------------------------------

LOG_COLUMNS = (
    "timestamp",
    "prompt",
    "temperature",
    "top_p",
    "max_tokens",
    "seed",
    "seconds",
    "num_tokens",
    "finish_reason",
)
"""What every row of the learner's log must hold (vLLM's names)."""
LOG_PROMPTS = ("The capital of France is", "Once upon a time", "The future of AI is")


@checkpoint("2.11")
def run_log(fn: Callable[..., Any], llm: Any) -> str:
    """Check ``fn(path, outputs, params, seconds)`` appending one row per output."""
    from vllm import SamplingParams

    params = [
        SamplingParams(temperature=0, max_tokens=6, seed=1),
        SamplingParams(temperature=0.8, top_p=0.9, max_tokens=6, seed=2),
        SamplingParams(temperature=0.5, max_tokens=4, seed=3),
    ]
    outputs = llm.generate(list(LOG_PROMPTS), params, use_tqdm=False)
    with tempfile.TemporaryDirectory(prefix="vlesson-check-") as tmp:
        path = Path(tmp, "runs.jsonl")
        fn(path, outputs, params, 0.75)
        first = _read_rows(path)
        fn(path, outputs, params, 0.5)
        rows = _read_rows(path)
    n = len(outputs)
    assert len(first) == n, f"one call wrote {len(first)} rows for {n} outputs"
    assert len(rows) == 2 * n, (
        f"after two calls the file has {len(rows)} rows, not {2 * n}: the second call "
        "replaced the first call's rows - open the file for appending"
    )
    for column in LOG_COLUMNS:
        assert column in rows[0], (
            f"the rows have no {column!r} column (they have {sorted(rows[0])}); "
            f"use these names: {', '.join(LOG_COLUMNS)}"
        )
    for row, p, o in zip(rows, params * 2, list(outputs) * 2, strict=True):
        _check_log_row(row, p, o)
    assert (
        _number(rows[0]["seconds"]) == 0.75 and _number(rows[-1]["seconds"]) == 0.5
    ), "seconds should be the time of the generate call you were given"
    return (
        "one row per generation with its own settings, appended: the log can be "
        "read back by pandas and compared across runs"
    )


def _read_rows(path: Path) -> list[dict[str, Any]]:
    assert path.is_file(), f"your function wrote no file at {path.name}"
    text = path.read_text(encoding="utf-8")
    lines = [line for line in text.splitlines() if line.strip()]
    if not lines:
        return []
    if lines[0].lstrip().startswith("{"):
        try:
            return [json.loads(line) for line in lines]
        except json.JSONDecodeError as exc:
            raise AssertionError(
                f"a line is not JSON ({exc.msg}): write json.dumps(row) and a newline"
                " per row, one row per line"
            ) from None
    rows = list(csv.DictReader(io.StringIO(text)))
    assert not any(r.get("timestamp") == "timestamp" for r in rows), (
        "the CSV header appears again in the middle: write it only when the file is "
        "new (or empty)"
    )
    return rows


def _number(value: Any) -> float:
    try:
        return float(value)
    except (TypeError, ValueError):
        return math.nan


def _check_log_row(row: Mapping[str, Any], params: Any, output: Any) -> None:
    completion = output.outputs[0]
    prompt = output.prompt
    assert row["prompt"] == prompt, (
        f"a row's prompt is {row['prompt']!r} where the output's is {prompt!r}: "
        "one row per RequestOutput, in order"
    )
    for name in ("temperature", "top_p", "max_tokens", "seed"):
        assert _number(row[name]) == float(getattr(params, name)), (
            f"the row for {prompt!r} has {name}={row[name]!r}, but that request ran "
            f"with {getattr(params, name)!r}: log each output's own SamplingParams"
        )
    tokens, text = _number(row["num_tokens"]), completion.text
    assert tokens == len(completion.token_ids), (
        f"num_tokens is {row['num_tokens']!r} for {text!r}: "
        + (
            "that counts characters"
            if tokens == len(text)
            else "that counts words"
            if tokens == len(text.split())
            else "count the generated tokens"
        )
        + ", the model counts tokens (the output's token_ids)"
    )
    assert row["finish_reason"] == completion.finish_reason, (
        f"finish_reason is {row['finish_reason']!r}, the output says "
        f"{completion.finish_reason!r}"
    )
    _check_timestamp(row["timestamp"])


def _check_timestamp(value: Any) -> None:
    now = dt.datetime.now(dt.UTC)
    when = None
    if isinstance(value, (int, float)) or re.fullmatch(r"\d+(\.\d+)?", str(value)):
        when = dt.datetime.fromtimestamp(float(value), dt.UTC)
    else:
        try:
            when = dt.datetime.fromisoformat(str(value))
        except ValueError:
            pass
    assert when is not None, (
        f"timestamp {value!r} is neither ISO 8601 nor seconds since the epoch: "
        "the datetime module writes ISO 8601 for you"
    )
    if when.tzinfo is None:
        when = when.astimezone()  # naive: the machine's local time
    assert abs((now - when).total_seconds()) < 3600, (
        f"timestamp {value!r} is not the time the row was written"
    )


# -- 2.14 result caching --------------------------------------------------------------

KEY_REQUEST = {
    "model": "smollm2-135m-instruct",
    "temperature": 0.0,
    "top_p": 1.0,
    "max_tokens": 16,
    "seed": None,
}
"""A request's parameters as the notebook's cache sees them."""

KEY_CHANGES = (
    ("temperature", 0.8),
    ("max_tokens", 17),
    ("seed", 0),
    ("model", "gemma-3-270m"),
    ("top_p", 0.9),
)


@checkpoint(
    "2.14",
    refuse=(
        "vlesson.workflows.cache.request_key",
        "vlesson.workflows.cache.canonical_json",
    ),
)
def cache_key(fn: Callable[[str, dict[str, Any]], Any]) -> str:
    """Check ``get_cache_key(prompt, params) -> str`` (2.14)."""
    prompt = "The capital of France is"
    names = getattr(getattr(inspect.unwrap(fn), "__code__", None), "co_names", ())
    assert "hash" not in names, (
        "Python's hash() of a str changes every time Python starts (PYTHONHASHSEED), "
        "so the key would not survive a restart: use hashlib"
    )
    key = fn(prompt, dict(KEY_REQUEST))
    assert isinstance(key, str), f"the key is {type(key).__name__}: return a str"
    assert fn(prompt, dict(KEY_REQUEST)) == key, "the same request gave two keys"
    reordered = dict(reversed(list(KEY_REQUEST.items())))
    assert fn(prompt, reordered) == key, (
        "the same parameters in another order gave another key: str(dict) follows "
        "insertion order - hash a canonical form in which the order cannot show"
    )
    assert fn(prompt + "!", dict(KEY_REQUEST)) != key, "another prompt, the same key"
    for name, value in KEY_CHANGES:
        changed = {**KEY_REQUEST, name: value}
        assert fn(prompt, changed) != key, (
            f"{name}={value!r} gave the same key as {name}={KEY_REQUEST[name]!r}: "
            "every parameter that changes the output must change the key"
        )
    long_key = fn("word " * 2000, dict(KEY_REQUEST))
    assert len(long_key) <= 128 and re.fullmatch(r"[A-Za-z0-9_\-]+", long_key), (
        f"a 10,000-character prompt gave a key of {len(long_key)} characters "
        f"starting {long_key[:20]!r}: the key names a file - hash it to a short hex "
        "digest"
    )
    return (
        "equal requests give one key whatever the order, and any change gives another"
        " - str(dict) gives neither"
    )


RESULT = {"text": " Paris.", "token_ids": [7042, 30], "finish_reason": "stop"}
OTHER_RESULT = {"text": " Rome.", "token_ids": [9104, 30], "finish_reason": "stop"}


@checkpoint("2.14")
def result_cache(
    cache_result: Callable[[str, Any], Any],
    get_cached_result: Callable[[str], Any],
    cache_dir: str | Path,
) -> str:
    """Check the sheet's ``cache_result`` / ``get_cached_result`` on ``cache_dir``."""
    folder = Path(cache_dir)
    before = _files(folder)
    got = _lookup(get_cached_result, "0" * 32)
    assert got is None, f"a key never stored gave {got!r}: a miss returns None"
    cache_result("a" * 32, dict(RESULT))
    cache_result("b" * 32, dict(OTHER_RESULT))
    new = _files(folder) - before
    assert new, (
        f"cache_result wrote nothing into {folder}: a cache that lives in memory is "
        "gone after a kernel restart"
    )
    for key, want in (("a" * 32, RESULT), ("b" * 32, OTHER_RESULT)):
        got = _lookup(get_cached_result, key)
        assert got == want, f"stored {want!r}, got back {got!r}" + (
            ": store JSON and json.load it back" if isinstance(got, str) else ""
        )
    for path in new:
        path.unlink()
    got = _lookup(get_cached_result, "a" * 32)
    assert got is None, (
        "get_cached_result still found a result after its file was deleted: it "
        "answers from memory, which a kernel restart loses - read the file"
    )
    return "results go to files and come back equal: they survive a restart"


def _files(folder: Path) -> set[Path]:
    return {p for p in folder.rglob("*") if p.is_file()} if folder.is_dir() else set()


def _lookup(get_cached_result: Callable[[str], Any], key: str) -> Any:
    try:
        return get_cached_result(key)
    except (FileNotFoundError, KeyError) as exc:
        raise AssertionError(
            f"a key that is not cached raised {type(exc).__name__}: a miss is "
            "normal - return None"
        ) from None
