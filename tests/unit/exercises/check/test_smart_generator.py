"""Notebook 06's challenge, step by step: reference answers pass, typical wrong answers
get their hint, stubs are "not attempted", answers calling vlesson's own smart are
refused (a fake engine here; the real one runs the notebook)."""

from __future__ import annotations

import pandas as pd
import pytest

from tests.lesson_answers import (
    FakeEngine,
    reference,
    request_output,
    says,
    source,
)
from vlesson.exercises.check import smart_generator as checks

pytestmark = pytest.mark.usefixtures("scratch_progress")

NB = "06_smart_generator_and_benchmark"


class FakeLLM(FakeEngine):
    def complete(self, prompt, sp, index):
        return request_output(
            prompt,
            f" t{sp.temperature} s{sp.seed}",
            list(range(sp.max_tokens)),
            prompt_token_ids=list(range(5)),
            first_token_latency=0.01 * (index + 1),
            cumulative_logprob=None if sp.logprobs is None else -0.5 * sp.max_tokens,
        )


# -- step 1: the command line ------------------------------------------------------------

ARGS_HEAD = "def smart_args(argv):\n"
ARGS_RIGHT = """
    import argparse
    parser = argparse.ArgumentParser()
    parser.add_argument("--topic", required=True)
    parser.add_argument("--num-variations", type=int, default=5)
    parser.add_argument("--output", default="results.md")
    parser.add_argument("--max-tokens", type=int, default=128)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if args.num_variations < 1:
        parser.error("--num-variations must be at least 1")
    return args
"""
ARGS_WRONG = {
    "no type": (
        ARGS_RIGHT.replace('"--max-tokens", type=int,', '"--max-tokens",'),
        "max_tokens is the string '24'",
    ),
    "topic optional": (
        ARGS_RIGHT.replace('"--topic", required=True', '"--topic"'),
        "make --topic required",
    ),
    "zero accepted": (
        ARGS_RIGHT.replace("args.num_variations < 1", "False"),
        "refuse fewer than 1 variation",
    ),
    "another default": (
        ARGS_RIGHT.replace('default="results.md"', 'default="out.md"'),
        "output='out.md', want 'results.md'",
    ),
    "an option missing": (
        ARGS_RIGHT.replace(
            '    parser.add_argument("--seed", type=int, default=0)\n', ""
        ),
        "argparse exited - ",
    ),
    "nothing returned": (ARGS_RIGHT.replace("return args", "print(args)"), "NoneType"),
}


@pytest.mark.parametrize("name", ARGS_WRONG)
def test_smart_args_wrong_answers_get_their_hint(name):
    body, hint = ARGS_WRONG[name]
    fn = source(ARGS_HEAD + body)["smart_args"]
    says(checks.smart_args(fn), "wrong", hint)


def test_smart_args_reference_stub_and_vlessons_parser():
    says(checks.smart_args(reference(NB, "challenge")["smart_args"]), "right")
    stub = source(ARGS_HEAD + "    raise NotImplementedError\n")["smart_args"]
    says(checks.smart_args(stub), "not attempted")
    mine = source(
        ARGS_HEAD + "    from vlesson.cli.smart import build_parser\n"
        "    return build_parser().parse_args(argv)\n"
    )["smart_args"]
    says(checks.smart_args(mine), "wrong", "vlesson.cli.smart.build_parser")


# -- step 2: the variations ----------------------------------------------------------------

VAR_HEAD = """
from vllm import SamplingParams
def variations(llm, prompt, strategies, num_variations, *, max_tokens, seed):
"""
VAR_RIGHT = """
    labels, params = [], []
    for name, settings in strategies.items():
        for i in range(num_variations):
            labels.append((name, seed + i))
            params.append(SamplingParams(**settings, max_tokens=max_tokens, seed=seed + i,
                                         logprobs=0))
    outputs = llm.generate([prompt] * len(params), params)
    return [{"strategy": n, "seed": s, "text": o.outputs[0].text,
             "num_tokens": len(o.outputs[0].token_ids),
             "mean_logprob": o.outputs[0].cumulative_logprob / len(o.outputs[0].token_ids)}
            for (n, s), o in zip(labels, outputs)]
"""
VAR_WRONG = {
    "a call per strategy": (
        """
    rows = []
    for name, settings in strategies.items():
        ps = [SamplingParams(**settings, max_tokens=max_tokens, seed=seed + i)
              for i in range(num_variations)]
        for i, o in enumerate(llm.generate([prompt] * num_variations, ps)):
            rows.append({"strategy": name, "seed": seed + i, "text": o.outputs[0].text,
                         "num_tokens": 8, "mean_logprob": -0.5})
    return rows
""",
        "called 2 times for 6 outputs",
    ),
    "one seed for all": (
        VAR_RIGHT.replace("seed=seed + i,", "seed=seed,"),
        "variation i",
    ),
    "no seed": (VAR_RIGHT.replace(", seed=seed + i,", ","), "not set"),
    "settings dropped": (
        VAR_RIGHT.replace("SamplingParams(**settings, ", "SamplingParams("),
        "apply each strategy's settings",
    ),
    "max_tokens dropped": (
        VAR_RIGHT.replace("max_tokens=max_tokens, ", ""),
        "max_tokens is [16]",
    ),
    "no logprobs asked": (
        VAR_RIGHT.replace(
            ",\n                                         logprobs=0)", ")"
        ),
        "logprobs=0",
    ),
    "the sum, not the mean": (
        VAR_RIGHT.replace(" / len(o.outputs[0].token_ids)}", "}"),
        "that is the sum over the tokens",
    ),
    "words counted": (
        VAR_RIGHT.replace(
            '"num_tokens": len(o.outputs[0].token_ids)',
            '"num_tokens": len(o.outputs[0].text.split())',
        ),
        "count tokens (token_ids)",
    ),
    "rows in another order": (
        VAR_RIGHT.replace("zip(labels, outputs)", "zip(labels[::-1], outputs)"),
        "holds another request's text",
    ),
}


@pytest.mark.parametrize("name", VAR_WRONG)
def test_variations_wrong_answers_get_their_hint(name):
    body, hint = VAR_WRONG[name]
    fn = source(VAR_HEAD + body)["variations"]
    says(checks.variations(fn, FakeLLM()), "wrong", hint)


def test_variations_reference_and_stub():
    ns = reference(NB, "challenge")
    says(checks.variations(ns["variations"], FakeLLM()), "right", "one call")
    stub = source(VAR_HEAD + "    raise NotImplementedError\n")["variations"]
    says(checks.variations(stub, FakeLLM()), "not attempted")


def test_variations_through_vlessons_run_smart_is_refused():
    fn = source(
        VAR_HEAD + "    return vl.smart.run_smart(llm, prompt, num_variations=3,"
        " max_tokens=max_tokens).table.to_dict('records')\n"
    )["variations"]
    says(checks.variations(fn, FakeLLM()), "wrong", "vlesson.workflows.smart.run_smart")


# -- step 3: the quality metrics ---------------------------------------------------------

QUALITY_HEAD = "def quality(row, max_tokens):\n"
QUALITY_RIGHT = """
    import math
    words = vl.metrics.words(row["text"])
    pairs, triples = list(zip(words, words[1:])), list(zip(words, words[1:], words[2:]))
    chunks, mean = row["text"].split(), row["mean_logprob"]
    return {
        "coherence": math.exp(mean) if mean is not None else 0.0,
        "distinct_2": len(set(pairs)) / len(pairs) if pairs else 0.0,
        "length": row["num_tokens"] / max_tokens,
        "repetition": 1 - len(set(triples)) / len(triples) if triples else 0.0,
        "non_word_share": sum(not any(c.isalpha() for c in w) for w in chunks)
        / len(chunks) if chunks else 0.0,
    }
"""
QUALITY_WRONG = {
    "coherence is the log": (
        QUALITY_RIGHT.replace("math.exp(mean) if", "mean if"),
        "coherence is exp(mean_logprob)",
    ),
    "words, not pairs": (
        QUALITY_RIGHT.replace(
            "len(set(pairs)) / len(pairs)", "len(set(words)) / len(words)"
        ),
        "distinct-2 counts word pairs",
    ),
    "split on spaces": (
        QUALITY_RIGHT.replace('vl.metrics.words(row["text"])', 'row["text"].split()'),
        "split into words with vl.metrics.words",
    ),
    "pairs for repetition": (
        QUALITY_RIGHT.replace(
            "1 - len(set(triples)) / len(triples) if triples",
            "1 - len(set(pairs)) / len(pairs) if pairs",
        ),
        "use word 3-grams",
    ),
    "length in tokens": (
        QUALITY_RIGHT.replace('row["num_tokens"] / max_tokens', 'row["num_tokens"]'),
        "a share of the budget",
    ),
    "characters for noise": (
        QUALITY_RIGHT.replace(
            "sum(not any(c.isalpha() for c in w) for w in chunks)\n        / len(chunks)",
            "sum(not c.isalpha() for c in row['text'] if not c.isspace())\n"
            "        / len(row['text'].replace(' ', ''))",
        ),
        "not characters",
    ),
    "an empty output divides by zero": (
        QUALITY_RIGHT.replace(" if pairs else 0.0", ""),
        "an empty output (no tokens, mean_logprob None) raised ZeroDivisionError",
    ),
    "a metric missing": (
        QUALITY_RIGHT.replace('"length": row["num_tokens"] / max_tokens,', ""),
        "no 'length'",
    ),
}


@pytest.mark.parametrize("name", QUALITY_WRONG)
def test_quality_wrong_answers_get_their_hint(name):
    body, hint = QUALITY_WRONG[name]
    fn = source(QUALITY_HEAD + body)["quality"]
    says(checks.quality(fn), "wrong", hint)


def test_quality_reference_stub_and_vlessons_metrics():
    says(checks.quality(reference(NB, "challenge")["quality"]), "right", "five numbers")
    says(checks.quality(source(QUALITY_HEAD + QUALITY_RIGHT)["quality"]), "right")
    stub = source(QUALITY_HEAD + "    raise NotImplementedError\n")["quality"]
    says(checks.quality(stub), "not attempted")
    mine = source(
        QUALITY_HEAD
        + QUALITY_RIGHT.replace(
            '"distinct_2": len(set(pairs)) / len(pairs) if pairs else 0.0',
            '"distinct_2": vl.metrics.distinct_n(row["text"], 2)',
        )
    )["quality"]
    says(checks.quality(mine), "wrong", "vlesson.workflows.metrics.distinct_n")


# -- step 4: the ranking ------------------------------------------------------------------

RANKED_HEAD = "def ranked(rows, weights):\n"
RANKED_RIGHT = """
    scored = [{**r, "score": sum(w * r[m] for m, w in weights.items())} for r in rows]
    scored.sort(key=lambda r: r["score"], reverse=True)
    return [{**r, "rank": i} for i, r in enumerate(scored, 1)]
"""
RANKED_WRONG = {
    "worst first": (RANKED_RIGHT.replace("reverse=True", "reverse=False"), "put the best"),
    "rank from 0": (RANKED_RIGHT.replace("enumerate(scored, 1)", "enumerate(scored)"),
                    "number them 1"),
    "weights ignored": (RANKED_RIGHT.replace("sum(w * r[m]", "sum(r[m]"),
                        "each metric counts by its weight"),
    "penalties as rewards": (RANKED_RIGHT.replace("sum(w * r[m]", "sum(abs(w) * r[m]"),
                             "a negative weight is a penalty"),
    "fields lost": (
        RANKED_RIGHT.replace('{**r, "score"', '{"strategy": r["strategy"], "score"'),
        "a row lost its own fields",
    ),
    "no rank": (RANKED_RIGHT.replace('{**r, "rank": i}', "r"), "give every row a score and a rank"),
}  # fmt: skip


@pytest.mark.parametrize("name", RANKED_WRONG)
def test_ranked_wrong_answers_get_their_hint(name):
    body, hint = RANKED_WRONG[name]
    says(checks.ranked(source(RANKED_HEAD + body)["ranked"]), "wrong", hint)


def test_ranked_reference_stub_and_vlessons_score():
    says(
        checks.ranked(reference(NB, "challenge")["ranked"]), "right", "short > balanced"
    )
    stub = source(RANKED_HEAD + "    raise NotImplementedError\n")["ranked"]
    says(checks.ranked(stub), "not attempted")
    mine = source(
        RANKED_HEAD
        + RANKED_RIGHT.replace(
            "sum(w * r[m] for m, w in weights.items())",
            "vl.smart.score_row(r, weights)",
        )
    )["ranked"]
    says(checks.ranked(mine), "wrong", "vlesson.workflows.smart.score_row")


# -- step 4, then: the weights -------------------------------------------------------------------

RESULT = type(
    "Result",
    (),
    {
        "table": pd.DataFrame(
            {
                "strategy": ["focused", "balanced", "wild", "wild"],
                "coherence": [0.6, 0.4, 0.05, 0.04],
                "distinct_2": [0.7, 0.85, 1.0, 1.0],
                "length": [1.0, 1.0, 1.0, 1.0],
                "repetition": [0.2, 0.0, 0.0, 0.0],
                "non_word_share": [0.0, 0.02, 0.4, 0.35],
                "text": ["a", "b", "c", "d"],
            }
        )
    },
)()

WEIGHTS_WRONG = [
    ({"coherence": 0.2, "diversity": 0.5}, "'diversity' is not a metric"),
    ({"coherence": 0.2, "distinct_2": 0.5, "repetition": 0.3}, "rewards it"),
    ({"coherence": 0.5, "distinct_2": 0.2}, "ranks diversity above coherence"),
    ({"distinct_2": 0.5, "coherence": -0.1}, "still rewards coherence"),
    ({"coherence": 0.2, "distinct_2": 0.5}, "a penalty is too weak"),
    ("coherence=0.2,distinct_2=0.5", "a dict of metric -> number"),
]


@pytest.mark.parametrize(("weights", "hint"), WEIGHTS_WRONG)
def test_weights_wrong_answers_get_their_hint(weights, hint):
    says(checks.rerank_weights(weights, RESULT), "wrong", hint)


def test_weights_reference_passes_with_the_top_five():
    verdict = checks.rerank_weights(reference(NB, "challenge")["weights"], RESULT)
    says(verdict, "right", "comes from balanced")
    assert next(iter(verdict.evidence["strategy"])) == "balanced"
    says(checks.rerank_weights(..., RESULT), "not attempted")


# -- step 5: the report -------------------------------------------------------------------

REPORT_HEAD = "def smart_report(topic, rows, weights, *, best=3):\n"
REPORT_RIGHT = """
    lines = [f"# Smart content: {topic}", "",
             "score = " + " ".join(f"{w:+g} {m}" for m, w in weights.items()), ""]
    for row in rows[:best]:
        lines += [f"## {row['rank']}. {row['strategy']}", "```", row["text"], "```", ""]
    columns = ["rank", "strategy", "score", "text"]
    lines.append(vl.report.md_table(rows, columns))
    return "\\n".join(lines)
"""
REPORT_WRONG = {
    "no title": (REPORT_RIGHT.replace('f"# Smart content: {topic}"', '"Report"'),
                 "start with a '# ' heading"),
    "weights not stated": (REPORT_RIGHT.replace(
        '"score = " + " ".join(f"{w:+g} {m}" for m, w in weights.items())', '"ranked"'),
        "never names coherence"),
    "best not whole": (REPORT_RIGHT.replace('row["text"]', 'row["text"][:20]'),
                       "is not in the report in full"),
    "best in the wrong order": (REPORT_RIGHT.replace("rows[:best]", "rows[:best][::-1]"),
                                "not in rank order"),
    "a naive table": (
        REPORT_RIGHT.replace(
            "vl.report.md_table(rows, columns)",
            '"| rank | strategy | score | text |\\n| --- | --- | --- | --- |\\n" + '
            '"\\n".join(f"| {r[\'rank\']} | {r[\'strategy\']} | {r[\'score\']} '
            '| {r[\'text\']} |" for r in rows)',
        ),
        "a newline or '|' in the model's text",
    ),
    "no table": (REPORT_RIGHT.replace("lines.append(vl.report.md_table(rows, columns))", ""),
                 "no table of the outputs"),
    "only the best in the table": (
        REPORT_RIGHT.replace("md_table(rows, columns)", "md_table(rows[:best], columns)"),
        "the table has 2 rows for 5 outputs",
    ),
    "nothing returned": (REPORT_RIGHT.replace('return "\\n".join(lines)', "print(lines)"),
                         "return the markdown text"),
}  # fmt: skip


@pytest.mark.parametrize("name", REPORT_WRONG)
def test_smart_report_wrong_answers_get_their_hint(name):
    body, hint = REPORT_WRONG[name]
    fn = source(REPORT_HEAD + body)["smart_report"]
    says(checks.smart_report(fn), "wrong", hint)


def test_smart_report_reference_stub_and_vlessons_report():
    verdict = checks.smart_report(reference(NB, "challenge")["smart_report"])
    says(verdict, "right", "a report a reader can check")
    assert "# Smart content: Tidal power in 2040" in verdict.evidence.data
    says(
        checks.smart_report(source(REPORT_HEAD + REPORT_RIGHT)["smart_report"]), "right"
    )
    stub = source(REPORT_HEAD + "    raise NotImplementedError\n")["smart_report"]
    says(checks.smart_report(stub), "not attempted")
    mine = source(
        REPORT_HEAD + "    return vl.report.smart_markdown(rows, best=best)\n"
    )["smart_report"]
    says(checks.smart_report(mine), "wrong", "vlesson.workflows.report.smart_markdown")
