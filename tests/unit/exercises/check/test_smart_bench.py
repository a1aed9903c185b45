"""Notebook 06's checks: reference answers pass, typical wrong answers get their hint,
stubs are "not attempted" (a fake engine here; the real one runs the notebook)."""

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
from vlesson.exercises.check import smart_bench as checks
from vlesson.remote import RemoteLLM

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
        )


# -- challenge: variations ----------------------------------------------------------------

VAR_HEAD = """
from vllm import SamplingParams
def variations(llm, prompt, strategies, num_variations, *, max_tokens, seed):
"""
VAR_RIGHT = """
    labels, params = [], []
    for name, settings in strategies.items():
        for i in range(num_variations):
            labels.append((name, seed + i))
            params.append(SamplingParams(**settings, max_tokens=max_tokens, seed=seed + i))
    outputs = llm.generate([prompt] * len(params), params)
    return [{"strategy": n, "seed": s, "text": o.outputs[0].text}
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
            rows.append({"strategy": name, "seed": seed + i, "text": o.outputs[0].text})
    return rows
""",
        "called 2 times for 6 outputs",
    ),
    "one seed for all": (
        VAR_RIGHT.replace("seed=seed + i)", "seed=seed)"),
        "variation i",
    ),
    "no seed": (VAR_RIGHT.replace(", seed=seed + i)", ")"), "not set"),
    "settings dropped": (
        VAR_RIGHT.replace("SamplingParams(**settings, ", "SamplingParams("),
        "apply each strategy's settings",
    ),
    "max_tokens dropped": (
        VAR_RIGHT.replace("max_tokens=max_tokens, ", ""),
        "max_tokens is [16]",
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


# -- challenge: weights -------------------------------------------------------------------

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


# -- bonus --------------------------------------------------------------------------------

BENCH_HEAD = "def bench_figures(outputs, seconds):\n"
BENCH_RIGHT = """
    tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
    ttfts = [o.metrics.first_token_latency for o in outputs]
    return {"gen_tok_s": tokens / seconds, "ttft_mean_s": sum(ttfts) / len(ttfts),
            "total_s": seconds}
"""
BENCH_WRONG = {
    "mean of per-request rates": (
        BENCH_RIGHT.replace(
            "tokens / seconds,",
            "sum(len(o.outputs[0].token_ids) / seconds for o in outputs) / len(outputs),",
        ),
        "mean of each request's rate",
    ),
    "prompt tokens counted": (
        BENCH_RIGHT.replace(
            "len(o.outputs[0].token_ids)",
            "len(o.outputs[0].token_ids) + len(o.prompt_token_ids)",
        ),
        "prompt tokens are read",
    ),
    "characters counted": (
        BENCH_RIGHT.replace("len(o.outputs[0].token_ids)", "len(o.outputs[0].text)"),
        "not characters",
    ),
    "slowest first token": (
        BENCH_RIGHT.replace("sum(ttfts) / len(ttfts)", "max(ttfts)"),
        "slowest request's",
    ),
    "time per token": (
        BENCH_RIGHT.replace(
            "sum(ttfts) / len(ttfts)", "seconds / (tokens / len(outputs))"
        ),
        "that is time per token",
    ),
    "a key missing": (BENCH_RIGHT.replace('"total_s": seconds', ""), "missing total_s"),
}


@pytest.mark.parametrize("name", BENCH_WRONG)
def test_bench_wrong_answers_get_their_hint(name):
    body, hint = BENCH_WRONG[name]
    fn = source(BENCH_HEAD + body)["bench_figures"]
    says(checks.bench_figures(fn, FakeLLM()), "wrong", hint)


def test_bench_reference_and_stub():
    says(
        checks.bench_figures(reference(NB, "bonus")["bench_figures"], FakeLLM()),
        "right",
    )
    stub = source(BENCH_HEAD + "    raise NotImplementedError\n")["bench_figures"]
    says(checks.bench_figures(stub, FakeLLM()), "not attempted")


class FakeServer(FakeLLM, RemoteLLM):
    """A class server's answers: the same outputs without per-request metrics."""

    server = "http://class.example:8000/v1"

    def __init__(self):
        pass

    def complete(self, prompt, sp, index):
        output = super().complete(prompt, sp, index)
        output.metrics = None
        return output


@pytest.mark.parametrize("name", ["slowest first token", "mean of per-request rates"])
def test_bench_on_a_class_server_grades_latencies_on_sample_figures(name):
    says(
        checks.bench_figures(reference(NB, "bonus")["bench_figures"], FakeServer()),
        "right",
        "sample figures only",
    )
    body, hint = BENCH_WRONG[name]
    says(
        checks.bench_figures(source(BENCH_HEAD + body)["bench_figures"], FakeServer()),
        "wrong",
        hint,
    )
    stub = source(BENCH_HEAD + "    raise NotImplementedError\n")["bench_figures"]
    says(checks.bench_figures(stub, FakeServer()), "not attempted")
