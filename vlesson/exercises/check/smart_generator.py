"""Checks of notebook 06's challenge, the smart content generator, built in steps: the
command line, the variations, their quality metrics, the ranking (and weights that say
what "best" means), the markdown report.

Each grades the learner's function on inputs the check chooses: made-up rows for the
pure steps, the notebook's engine (a few tokens) for the variations. vlesson's own
``smart`` is the reference; an answer that calls it for its step is refused.
"""

from __future__ import annotations

import contextlib
import io
import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vlesson.exercises.grading import checkpoint
from vlesson.exercises.recording import Recorder
from vlesson.workflows.metrics import distinct_n, non_word_share, repetition, words
from vlesson.workflows.report import parse_md_tables

__all__ = [
    "quality",
    "ranked",
    "rerank_weights",
    "smart_args",
    "smart_report",
    "variations",
]

SMART = "vlesson.workflows.smart"

# -- step 1: the command line -----------------------------------------------------------

ARGS_DEFAULTS = {
    "num_variations": 5,
    "output": "results.md",
    "max_tokens": 128,
    "seed": 0,
}
"""What the sheet's ``smart_generator.py`` takes besides --topic, with defaults."""
ARGS_GIVEN = {
    "num_variations": 3,
    "output": "runs/tides.md",
    "max_tokens": 24,
    "seed": 7,
}


@checkpoint("challenge", refuse=("vlesson.cli.smart.build_parser",))
def smart_args(fn: Callable[[list[str]], Any]) -> str:
    """Check ``fn(argv) -> argparse.Namespace`` (topic, num_variations, output,
    max_tokens, seed)."""
    topic = "Tides on a moon of Saturn"
    argv = ["--topic", topic]
    for name, value in ARGS_GIVEN.items():
        argv += [f"--{name.replace('_', '-')}", str(value)]
    got = fn(argv)
    _same_args(got, {"topic": topic, **ARGS_GIVEN}, " ".join(argv))
    _same_args(fn(["--topic", topic]), {"topic": topic, **ARGS_DEFAULTS}, "--topic")
    for bad, hint in (
        ([], "make --topic required (the tool has nothing to write about without it)"),
        (
            ["--topic", topic, "--num-variations", "0"],
            (
                "refuse fewer than 1 variation with parser.error(...): an empty report "
                "helps no one"
            ),
        ),
    ):
        said = _exits(fn, bad)
        assert said is not None, (
            f"`{' '.join(bad) or '(no options)'}` was accepted: {hint}"
        )
    return (
        "--topic required, numbers typed, defaults stated, nonsense refused with a "
        "usage line before anything loads: the command line is the tool's contract"
    )


def _same_args(got: Any, want: Mapping[str, Any], line: str) -> None:
    assert hasattr(got, "__dict__") or isinstance(got, Mapping), (
        f"your function returned {type(got).__name__}: return the parsed namespace "
        "(parser.parse_args(argv))"
    )
    values = dict(got) if isinstance(got, Mapping) else vars(got)
    for name, value in want.items():
        assert name in values, (
            f"no {name!r} in what `{line}` gives: the option --"
            f"{name.replace('_', '-')} is stored as {name}"
        )
        mine = values[name]
        if name == "output":
            mine = str(mine) if mine is not None else mine
        assert not (isinstance(value, int) and isinstance(mine, str)), (
            f"{name} is the string {mine!r}: argparse gives strings unless the "
            "option has a type (type=int)"
        )
        assert mine == value, f"`{line}` gives {name}={mine!r}, want {value!r}"


def _exits(fn: Callable[[list[str]], Any], argv: list[str]) -> str | None:
    """What argparse said on stderr when it exited, or None if it did not."""
    err = io.StringIO()
    try:
        with contextlib.redirect_stderr(err):
            fn(argv)
    except SystemExit:
        return err.getvalue().strip() or "exited"
    return None


# -- step 2: every variation of every strategy in one call ------------------------------

STRATEGIES = {
    "focused": {"temperature": 0.3, "top_p": 0.8, "top_k": 20},
    "wild": {"temperature": 1.5, "top_p": 1.0},
}
NUM_VARIATIONS, SEED, MAX_TOKENS = 3, 40, 8
ROW_KEYS = ("strategy", "seed", "text", "num_tokens", "mean_logprob")
NO_LOGPROBS = (
    "your requests ask for no log-probabilities, so cumulative_logprob is None and "
    "mean_logprob has nothing to come from: vLLM returns the sampled tokens' own with "
    "logprobs=0"
)


@checkpoint("challenge", refuse=(f"{SMART}.run_smart",))
def variations(fn: Callable[..., Any], llm: Any) -> str:
    """Check ``fn(llm, prompt, strategies, num_variations, *, max_tokens, seed)``."""
    rec = Recorder(llm)
    try:
        rows = fn(
            rec,
            "Write one sentence about the sea.",
            {k: dict(v) for k, v in STRATEGIES.items()},
            NUM_VARIATIONS,
            max_tokens=MAX_TOKENS,
            seed=SEED,
        )
    except TypeError:
        # None / n: cumulative_logprob is None when the requests asked for none
        if rec.calls and any(p.logprobs is None for p in rec.calls[0].params_list()):
            raise AssertionError(NO_LOGPROBS) from None
        raise
    want = len(STRATEGIES) * NUM_VARIATIONS
    call = rec.only_call(
        f" for {want} outputs: every variation of every strategy fits in one call"
    )
    params = call.params_list()
    assert isinstance(call.sampling_params, Sequence) and len(params) == want, (
        f"send {want} SamplingParams ({len(STRATEGIES)} strategies x "
        f"{NUM_VARIATIONS} variations), one per request"
    )
    _check_strategy_params(params)
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict("records")
    assert isinstance(rows, Sequence) and len(rows) == want, (
        f"return one row per output ({want}): {', '.join(ROW_KEYS)}"
    )
    outputs = {
        (p.temperature, p.seed): o.outputs[0]
        for p, o in zip(params, call.outputs, strict=False)
    }
    for row in rows:
        assert isinstance(row, Mapping) and set(ROW_KEYS) <= set(row), (
            f"a row is {row!r}: give each row {', '.join(ROW_KEYS)}"
        )
        t = STRATEGIES.get(row["strategy"], {}).get("temperature")
        out = outputs.get((t, row["seed"]))
        assert out is not None and out.text == row["text"], (
            f"the row of {row['strategy']!r} with seed {row['seed']} holds another "
            "request's text: outputs come back in the order of the params list"
        )
        _check_row_tokens(row, out)
    return (
        f"{want} outputs in one call, seeds {SEED}..{SEED + NUM_VARIATIONS - 1} for "
        "every strategy: a strategy's variations differ only by seed, and a rerun "
        "repeats exactly"
    )


def _check_strategy_params(params: list[Any]) -> None:
    for name, settings in STRATEGIES.items():
        mine = [p for p in params if p.temperature == settings["temperature"]]
        assert len(mine) == NUM_VARIATIONS, (
            f"{len(mine)} requests with {name}'s temperature "
            f"{settings['temperature']}, want {NUM_VARIATIONS}: apply each strategy's "
            "settings to its own requests"
        )
        for key, value in settings.items():
            got = {getattr(p, key) for p in mine}
            assert got == {value}, (
                f"strategy {name} asks {key}={value}, its requests have {sorted(got)}"
            )
        seeds = sorted(p.seed for p in mine if p.seed is not None)
        want = list(range(SEED, SEED + NUM_VARIATIONS))
        assert seeds == want, (
            f"{name}'s seeds are {seeds or 'not set'}; variation i should use seed + i"
            f" ({want}), so every strategy gets the same draws"
        )
        lengths = {p.max_tokens for p in mine}
        assert lengths == {MAX_TOKENS}, (
            f"max_tokens is {sorted(lengths)}, the argument was {MAX_TOKENS}"
        )
    assert all(p.logprobs is not None for p in params), NO_LOGPROBS


def _check_row_tokens(row: Mapping[str, Any], out: Any) -> None:
    n = len(out.token_ids)
    assert row["num_tokens"] == n, (
        f"num_tokens is {row['num_tokens']!r} for an output of {n} token ids: count "
        "tokens (token_ids), not words or characters"
    )
    mean = row["mean_logprob"]
    if not n:
        return
    want = out.cumulative_logprob / n
    assert isinstance(mean, (int, float)) and _close(mean, want), (
        f"mean_logprob is {mean!r}, want {want:.4f}: "
        + (
            "that is the sum over the tokens (cumulative_logprob); divide by the "
            "number of tokens, so long and short outputs compare"
            if isinstance(mean, (int, float)) and _close(mean, out.cumulative_logprob)
            else "the mean log-probability per generated token, from the output's "
            "cumulative_logprob"
        )
    )


def _close(a: float, b: float, tol: float = 2e-3) -> bool:
    return math.isclose(float(a), float(b), rel_tol=tol, abs_tol=tol)


# -- step 3: the quality metrics of one output ------------------------------------------

QUALITY_KEYS = ("coherence", "distinct_2", "length", "repetition", "non_word_share")
QUALITY_MAX_TOKENS = 20
QUALITY_ROWS = (
    {
        "text": "The sea is wide. The sea is deep, and the sea is wide again.",
        "num_tokens": 16,
        "mean_logprob": -0.9,
    },
    {"text": "Waves -- ## 42 :: crash || %% on the shore", "num_tokens": 14,
     "mean_logprob": -3.2},
    {"text": "Don't stop: don't stop the tide, don't stop the tide.", "num_tokens": 13,
     "mean_logprob": -1.7},
)  # fmt: skip
"""Made-up rows (as step 2 returns them): a loop, symbol noise, apostrophes."""
EMPTY_ROW = {"text": "", "num_tokens": 0, "mean_logprob": None}
"""An output with no token at all (the model can stop at once)."""
QUALITY_REFUSED = tuple(
    f"vlesson.workflows.metrics.{name}"
    for name in ("distinct_n", "repetition", "non_word_share", "text_metrics")
) + (f"{SMART}._row", f"{SMART}.run_smart")


def _reference_quality(row: Mapping[str, Any], max_tokens: int) -> dict[str, float]:
    text, mean = row["text"], row["mean_logprob"]
    return {
        "coherence": math.exp(mean) if mean is not None else 0.0,
        "distinct_2": distinct_n(text, 2),
        "length": min(row["num_tokens"] / max_tokens, 1.0),
        "repetition": repetition(text),
        "non_word_share": non_word_share(text),
    }


@checkpoint("challenge", refuse=QUALITY_REFUSED)
def quality(fn: Callable[[Mapping[str, Any], int], Mapping[str, float]]) -> str:
    """Check ``fn(row, max_tokens) -> {metric: value}`` on made-up rows."""
    for row in QUALITY_ROWS:
        got = fn(dict(row), QUALITY_MAX_TOKENS)
        assert isinstance(got, Mapping), (
            f"your function returned {type(got).__name__}: return a dict of "
            f"{', '.join(QUALITY_KEYS)}"
        )
        missing = [k for k in QUALITY_KEYS if k not in got]
        assert not missing, f"the dict has no {missing[0]!r}: give all five metrics"
        want = _reference_quality(row, QUALITY_MAX_TOKENS)
        for name in QUALITY_KEYS:
            value = got[name]
            ok = isinstance(value, (int, float)) and _close(value, want[name])
            assert ok, (
                f"{name} of {row['text']!r} is {value!r}, want {want[name]:.4f}: "
                + _quality_hint(name, value, row)
            )
    try:
        empty = fn(dict(EMPTY_ROW), QUALITY_MAX_TOKENS)
    except Exception as exc:  # noqa: BLE001 - the learner's code
        raise AssertionError(
            f"an empty output (no tokens, mean_logprob None) raised "
            f"{type(exc).__name__}: {exc} - with nothing to count, a share is 0.0, "
            "and coherence too"
        ) from None
    bad = {k: empty.get(k) for k in QUALITY_KEYS if empty.get(k) != 0}
    assert not bad, f"an empty output gives {bad}: with nothing to count, say 0.0"
    return (
        "five numbers from 0 to 1 per output: the model's own confidence, lexical "
        "diversity, how much of the budget it used, and two penalties - a ranking can "
        "only weigh what you measured"
    )


def _quality_hint(name: str, value: Any, row: Mapping[str, Any]) -> str:
    if not isinstance(value, (int, float)):
        return "each metric is one number"
    text, mean, n = row["text"], row["mean_logprob"], row["num_tokens"]
    split = text.split()
    near = {
        "coherence": (
            (
                mean,
                (
                    "that is mean_logprob itself: coherence is exp(mean_logprob), a "
                    "probability from 0 to 1"
                ),
            ),
            (
                math.exp(mean * n),
                (
                    "that is exp of the whole output's log-probability: "
                    "use the mean per token, so length does not decide"
                ),
            ),
        ),
        "distinct_2": (
            (
                distinct_n(text, 1),
                "that counts single words: distinct-2 counts word pairs",
            ),
            (
                1 - distinct_n(text, 2),
                (
                    "that is the share of pairs that repeat: "
                    "distinct-2 is the share that are unique"
                ),
            ),
            (
                _split_distinct(split, 2),
                (
                    "split into words with vl.metrics.words "
                    "(lower case, no punctuation), so 'The' and 'the' are one word"
                ),
            ),
        ),
        "length": (
            (n, "length is a share of the budget, num_tokens / max_tokens (0-1)"),
            (
                len(words(text)) / QUALITY_MAX_TOKENS,
                "count tokens (num_tokens), not words",
            ),
        ),
        "repetition": (
            (
                repetition(text, 2),
                (
                    "use word 3-grams: two repeated words are common "
                    "English, three in a row a loop"
                ),
            ),
            (
                1 - repetition(text),
                (
                    "that is the share of 3-grams that are unique: "
                    "repetition is the share repeating an earlier one"
                ),
            ),
            (
                _split_repetition(split),
                "split into words with vl.metrics.words (lower case, no punctuation)",
            ),
        ),
        "non_word_share": (
            (
                _char_share(text),
                "count whitespace-separated chunks (text.split()), not characters",
            ),
            (1 - non_word_share(text), "that is the share of chunks WITH letters"),
        ),
    }[name]
    for other, hint in near:
        if _close(value, other):
            return hint
    return {
        "coherence": "coherence is exp(mean_logprob)",
        "distinct_2": "distinct-2: unique word pairs / all word pairs",
        "length": "length: num_tokens / max_tokens",
        "repetition": "repetition: word 3-grams that repeat an earlier one / all "
        "3-grams",
        "non_word_share": "non_word_share: chunks without any letter / all chunks",
    }[name]


def _split_distinct(tokens: list[str], n: int) -> float:
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def _split_repetition(tokens: list[str]) -> float:
    return 1 - _split_distinct(tokens, 3) if len(tokens) >= 3 else 0.0


def _char_share(text: str) -> float:
    chars = [c for c in text if not c.isspace()]
    return sum(not c.isalpha() for c in chars) / len(chars) if chars else 0.0


# -- step 4: the ranking ----------------------------------------------------------------

RANK_ROWS = (
    ("focused", 0.62, 0.55, 1.0, 0.30, 0.00),
    ("balanced", 0.41, 0.86, 1.0, 0.05, 0.02),
    ("creative", 0.22, 0.97, 0.9, 0.00, 0.10),
    ("wild", 0.04, 1.00, 1.0, 0.00, 0.45),
    ("short", 0.70, 0.60, 0.2, 0.00, 0.00),
)
"""Made-up scored outputs: strategy, then the five metrics in QUALITY_KEYS' order."""
RANK_WEIGHTS = (
    {"coherence": 0.4, "distinct_2": 0.3, "repetition": -0.5},
    {"distinct_2": 1.0, "length": 0.2, "non_word_share": -2.0},
)
"""Two rankings of the same rows, with penalties and metrics left out (weight 0)."""


def _rank_rows() -> list[dict[str, Any]]:
    return [
        {"strategy": s, "seed": i, "text": f"output {i} of {s}",
         **dict(zip(QUALITY_KEYS, metrics, strict=True))}
        for i, (s, *metrics) in enumerate(RANK_ROWS)
    ]  # fmt: skip


@checkpoint(
    "challenge", refuse=(f"{SMART}.score_row", f"{SMART}._ranked", f"{SMART}.rerank")
)
def ranked(fn: Callable[..., Any]) -> str:
    """Check ``fn(rows, weights) -> rows with score and rank, best first``."""
    orders = []
    for weights in RANK_WEIGHTS:
        rows = _rank_rows()
        got = fn(rows, dict(weights))
        if hasattr(got, "to_dict"):
            got = got.to_dict("records")
        assert isinstance(got, Sequence) and len(got) == len(rows), (
            f"return the {len(rows)} rows, each with its score and rank, best first"
        )
        assert all(
            isinstance(r, Mapping) and {"score", "rank"} <= set(r) for r in got
        ), "give every row a score and a rank"
        by_seed = {r["seed"]: r for r in _rank_rows()}
        for row in got:
            _check_score(row, by_seed.get(row.get("seed")), weights)
        scores = [float(r["score"]) for r in got]
        assert scores == sorted(scores, reverse=True), (
            f"your rows come in score order {[round(s, 3) for s in scores]}: put the "
            "best (highest score) first"
        )
        ranks = [r["rank"] for r in got]
        assert ranks == list(range(1, len(got) + 1)), (
            f"the ranks are {ranks}: number them 1 (the best) to {len(got)}"
        )
        orders.append([r["strategy"] for r in got])

    return (
        f"the same outputs rank {' > '.join(orders[0][:3])} under one weighting and "
        f"{' > '.join(orders[1][:3])} under another: 'best' is the weights you state"
    )


def _check_score(
    row: Mapping[str, Any],
    given: Mapping[str, Any] | None,
    weights: Mapping[str, float],
) -> None:
    assert given is not None and row.get("text") == given["text"], (
        "a row lost its own fields (text, strategy, seed): add score and rank to "
        "each row, keep the rest"
    )
    want = sum(w * given[name] for name, w in weights.items())
    score = row["score"]
    if isinstance(score, (int, float)) and _close(score, want):
        return
    plain = sum(given[name] for name in weights)
    signless = sum(abs(w) * given[name] for name, w in weights.items())
    every = sum(weights.get(name, 1.0) * given[name] for name in QUALITY_KEYS)
    hint = (
        "each metric counts by its weight: score = sum of weight x metric"
        if isinstance(score, (int, float)) and _close(score, plain)
        else "a negative weight is a penalty: keep its sign"
        if isinstance(score, (int, float)) and _close(score, signless)
        else "a metric with no weight counts 0, not 1: sum over the weights given"
        if isinstance(score, (int, float)) and _close(score, every)
        else "score = sum of weight x metric, over the weights given"
    )
    raise AssertionError(
        f"the score of {given['strategy']} is {score!r}, want {want:.4f}: {hint}"
    )


# -- step 4, then: weights that say what 'best' means -------------------------------------------------------

PENALTIES = ("repetition", "non_word_share")
REWARDS = ("coherence", "distinct_2", "length")
NOISE = 0.2
"""A top output with more than this share of letter-less chunks is symbol noise."""


@checkpoint("challenge")
def rerank_weights(weights: Mapping[str, float], result: Any) -> tuple[str, Any]:
    """Check weights that rank diversity above coherence without crowning noise.

    ``result`` is ``vl.smart.run_smart(...)``'s SmartResult (its ``table`` has one
    column per metric).
    """
    assert isinstance(weights, Mapping), (
        f"weights is a {type(weights).__name__}: a dict of metric -> number"
    )
    known = (*REWARDS, *PENALTIES)
    unknown = [k for k in weights if k not in known]
    assert not unknown, f"{unknown[0]!r} is not a metric: use {', '.join(known)}"
    for name in PENALTIES:
        assert weights.get(name, 0) <= 0, (
            f"{name} has weight {weights[name]}: a positive weight rewards it"
        )
    d, c = weights.get("distinct_2", 0), weights.get("coherence", 0)
    assert d > c >= 0, (
        f"distinct_2 weighs {d} and coherence {c}: the goal ranks diversity above "
        "coherence, and still rewards coherence"
    )
    table = result.table.copy()
    table["score"] = [
        sum(w * float(row[name]) for name, w in weights.items())
        for row in table.to_dict("records")
    ]
    table = table.sort_values("score", ascending=False, kind="stable")
    top = table.iloc[0]
    assert top["non_word_share"] <= NOISE, (
        f"your top output ({top['strategy']}, non_word_share "
        f"{top['non_word_share']:.2f}) is mostly symbols: a penalty is too weak"
    )
    shown = table.head(5)[["strategy", "score", "coherence", "distinct_2", "text"]]
    return (
        (
            f"the top output comes from {top['strategy']}: diverse, and not noise - the "
            "weights state what 'best' means, the model did not change"
        ),
        shown.reset_index(drop=True),
    )


# -- step 5: the markdown report --------------------------------------------------------

REPORT_TOPIC = "Tidal power in 2040"
REPORT_BEST = 2
REPORT_WEIGHTS = {"coherence": 0.4, "distinct_2": 0.3, "repetition": -0.5}
REPORT_TEXTS = {
    "short": "Tides turn twice a day.\n\nTurbines | under the sea | hum.",
    "balanced": "Tidal lagoons store *power* for the evening peak.",
    "creative": "The moon's pull, sold by the kilowatt-hour.",
    "wild": "%% tide ## 7 :: <b>moon</b>",
    "focused": "Tidal power is power from the tides.",
}
"""Texts with what breaks a naive table: '|', newlines, markup."""


def _report_rows() -> list[dict[str, Any]]:
    rows = []
    for seed, row in enumerate(_rank_rows()):
        row["text"] = REPORT_TEXTS[row["strategy"]]
        row["score"] = round(sum(w * row[m] for m, w in REPORT_WEIGHTS.items()), 4)
        rows.append(row)
    rows.sort(key=lambda r: r["score"], reverse=True)
    return [{"rank": i, **r} for i, r in enumerate(rows, 1)]


@checkpoint(
    "challenge",
    refuse=(
        "vlesson.workflows.report.smart_markdown",
        "vlesson.workflows.report.write_smart_report",
    ),
)
def smart_report(fn: Callable[..., Any]) -> tuple[str, Any]:
    """Check ``fn(topic, rows, weights, *, best) -> markdown text``."""
    rows = _report_rows()
    text = fn(REPORT_TOPIC, [dict(r) for r in rows], dict(REPORT_WEIGHTS),
              best=REPORT_BEST)  # fmt: skip
    assert isinstance(text, str) and text.strip(), (
        f"your function returned {type(text).__name__}: return the markdown text "
        "(the caller writes it to --output)"
    )
    lines = text.splitlines()
    assert any(ln.startswith("# ") and REPORT_TOPIC in ln for ln in lines), (
        f"no title: start with a '# ' heading that names the topic ({REPORT_TOPIC!r})"
    )
    missing = [m for m in REPORT_WEIGHTS if m not in text]
    assert not missing, (
        f"the report never names {missing[0]}: state the ranking (each metric and its "
        "weight), so a reader knows what 'best' meant"
    )
    _check_best(text, rows)
    _check_table(text, rows)
    from IPython.display import Markdown

    return (
        (
            "the best outputs in full, every output in one table that survives '|' and "
            "newlines in the model's text, and the ranking stated: a report a reader can "
            "check"
        ),
        Markdown(text),
    )


def _check_best(text: str, rows: list[dict[str, Any]]) -> None:
    where = []
    for row in rows[:REPORT_BEST]:
        at = text.find(row["text"])
        assert at >= 0, (
            f"the text of rank {row['rank']} ({row['strategy']}) is not in the report "
            f"in full: show the {REPORT_BEST} best outputs whole (in a ``` fence they "
            "keep their lines and markup)"
        )
        where.append(at)
    assert where == sorted(where), (
        "the best outputs are not in rank order: rank 1 first"
    )


def _check_table(text: str, rows: list[dict[str, Any]]) -> None:
    try:
        tables = parse_md_tables(text)
    except ValueError as exc:
        raise AssertionError(
            f"a table breaks ({exc}): the model's text holds '|' and newlines - build "
            "table rows with vl.report.md_table or md_cell, which escape them"
        ) from None
    found = [
        t for t in tables.values() if t and {"rank", "strategy", "score"} <= set(t[0])
    ]
    assert found, (
        "no table of the outputs: one markdown table with (at least) the columns "
        "rank, strategy and score, one row per output"
    )
    table = found[0]
    assert len(table) == len(rows), (
        f"the table has {len(table)} rows for {len(rows)} outputs: one row each"
        + (
            " (a newline or '|' in the model's text ends or splits a row: build rows "
            "with vl.report.md_table or md_cell, which escape them)"
            if len(table) < len(rows)
            else ""
        )
    )
    for mine, row in zip(table, rows, strict=True):
        assert (
            mine["strategy"] == row["strategy"] and _number(mine["rank"]) == row["rank"]
        ), (
            f"table row {row['rank']} is {mine['strategy']} (rank {mine['rank']}), "
            f"want {row['strategy']}: list the outputs in rank order"
        )
        score = _number(mine["score"])
        assert score is not None and _close(score, row["score"], 5e-3), (
            f"the score of {row['strategy']} reads {mine['score']!r}, want "
            f"{row['score']}: write the number (rounded is fine)"
        )


def _number(cell: str) -> float | None:
    try:
        return float(cell.strip().strip("*"))
    except ValueError:
        return None
