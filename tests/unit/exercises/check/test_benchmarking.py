"""Notebook 06's bonus, step by step: reference answers pass, typical wrong answers get
their hint, stubs are "not attempted", answers calling vlesson's own bench or memory
sampler are refused (a fake engine here; the real one runs the notebook)."""

from __future__ import annotations

import pytest

from tests.lesson_answers import FakeEngine, reference, request_output, says, source
from vlesson.exercises.check import benchmarking as checks
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


def bonus_answers():
    """The notebook's three answers, defined together as in the notebook."""
    return reference(NB, "bonus")


# -- step 1: throughput and time to first token --------------------------------------------------------------------------------

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


def test_bench_reference_stub_and_vlessons_measure():
    says(
        checks.bench_figures(reference(NB, "bonus")["bench_figures"], FakeLLM()),
        "right",
    )
    stub = source(BENCH_HEAD + "    raise NotImplementedError\n")["bench_figures"]
    says(checks.bench_figures(stub, FakeLLM()), "not attempted")
    mine = source(BENCH_HEAD + "    return vl.bench.measure(FakeLLM(), ['a'], None)\n")[
        "bench_figures"
    ]
    mine.__globals__["FakeLLM"] = FakeLLM
    says(
        checks.bench_figures(mine, FakeLLM()),
        "wrong",
        "vlesson.workflows.bench.measure",
    )


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


# -- step 2: peak memory ------------------------------------------------------------------

PEAK_HEAD = "def peak_memory(work):\n"
PEAK_RIGHT = """
    import threading
    import psutil
    process, peak, done = psutil.Process(), [0.0], threading.Event()

    def sample():
        while True:
            peak[0] = max(peak[0], process.memory_info().rss / 2**20)
            if done.wait(0.02):
                return

    sampler = threading.Thread(target=sample)
    sampler.start()
    result = work()
    done.set()
    sampler.join()
    return result, peak[0]
"""
PEAK_WRONG = {
    "before and after": (
        """
    import psutil
    before = psutil.Process().memory_info().rss / 2**20
    result = work()
    return result, max(before, psutil.Process().memory_info().rss / 2**20)
""",
        "sample while it runs, from a thread",
    ),
    "bytes": (PEAK_RIGHT.replace("rss / 2**20", "rss"), "that is bytes or KiB"),
    "no result": (PEAK_RIGHT.replace("return result, peak[0]", "return peak[0]"),
                  "return a pair"),
    "a sum of samples": (
        PEAK_RIGHT.replace("peak[0] = max(peak[0], ", "peak[0] = peak[0] + ("),
        "keep the highest sample, not a sum",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", PEAK_WRONG)
def test_peak_memory_wrong_answers_get_their_hint(name):
    body, hint = PEAK_WRONG[name]
    says(checks.peak_memory(source(PEAK_HEAD + body)["peak_memory"]), "wrong", hint)


def test_peak_memory_reference_stub_and_vlessons_sampler():
    says(checks.peak_memory(bonus_answers()["peak_memory"]), "right", "sampled during")
    stub = source(PEAK_HEAD + "    raise NotImplementedError\n")["peak_memory"]
    says(checks.peak_memory(stub), "not attempted")
    mine = source(
        PEAK_HEAD + "    with vl.memory.MemoryMonitor(interval=0.02) as mon:\n"
        "        result = work()\n    return result, mon.peak_rss_mib\n"
    )["peak_memory"]
    says(checks.peak_memory(mine), "wrong", "vlesson.workflows.memory.rss_mib")


# -- step 3: the loop over models and batch sizes -----------------------------------------

LOOP_HEAD = "def benchmark(models, batch_sizes, *, load, max_tokens):\n"
LOOP_RIGHT = """
    import time
    prompts, rows = vl.LESSON_PROMPTS, []
    params = SamplingParams(temperature=0, max_tokens=max_tokens, ignore_eos=True)
    for model in models:
        llm = load(model)
        for size in batch_sizes:
            batch = [prompts[i % len(prompts)] for i in range(size)]
            start = time.perf_counter()
            outputs, peak = peak_memory(lambda: llm.generate(batch, params))
            seconds = time.perf_counter() - start
            rows.append({"model": model, "batch_size": size,
                         **bench_figures(outputs, seconds), "peak_rss_mib": peak})
    return rows
"""
LOOP_WRONG = {
    "a call per prompt": (
        LOOP_RIGHT.replace(
            "llm.generate(batch, params)",
            "[o for p in batch for o in llm.generate([p], params)]",
        ),
        "one batched call per batch size",
    ),
    "stops at end-of-sequence": (
        LOOP_RIGHT.replace(", ignore_eos=True", ""),
        "ignore_eos=True",
    ),
    "loaded per batch size": (
        LOOP_RIGHT.replace("        llm = load(model)\n", "").replace(
            "            batch = ", "            llm = load(model)\n            batch = "
        ),
        "was loaded 2 times",
    ),
    "one model only": (LOOP_RIGHT.replace("for model in models:", "for model in models[:1]:"),
                       "gemma-3-270m was never loaded"),
    "loading timed": (
        LOOP_RIGHT.replace("        llm = load(model)\n", "").replace(
            "            start = time.perf_counter()\n",
            "            start = time.perf_counter()\n            llm = load(model)\n",
        ),
        "was loaded 2 times",
    ),
    "a column renamed": (LOOP_RIGHT.replace('"peak_rss_mib": peak', '"peak_ram": peak'),
                         "a row has no 'peak_rss_mib'"),
    "the batch's time wrong": (
        LOOP_RIGHT.replace("seconds = time.perf_counter() - start",
                           "seconds = (time.perf_counter() - start) * 100"),
        "total_s is",
    ),
}  # fmt: skip


@pytest.mark.parametrize("name", LOOP_WRONG)
def test_benchmark_wrong_answers_get_their_hint(name):
    body, hint = LOOP_WRONG[name]
    fn = with_steps(source(LOOP_HEAD + body)["benchmark"])
    says(checks.benchmark(fn, FakeLLM()), "wrong", hint)


def with_steps(fn):
    """Give a learner's loop the reference steps 1 and 2 it calls."""
    ns = bonus_answers()
    fn.__globals__.update(
        bench_figures=ns["bench_figures"],
        peak_memory=ns["peak_memory"],
        SamplingParams=ns["SamplingParams"],
    )
    return fn


def test_benchmark_reference_stub_and_vlessons_run_bench():
    ns = bonus_answers()
    says(checks.benchmark(ns["benchmark"], FakeLLM()), "right", "4 cases")
    says(checks.benchmark(with_steps(source(LOOP_HEAD + LOOP_RIGHT)["benchmark"]),
                          FakeLLM()), "right")  # fmt: skip
    stub = source(LOOP_HEAD + "    raise NotImplementedError\n")["benchmark"]
    says(checks.benchmark(stub, FakeLLM()), "not attempted")
    mine = source(
        # batch_sizes=[] fails at once: the refusal, not an engine, is tested
        LOOP_HEAD + "    return vl.bench.run_bench(models, [], max_tokens=max_tokens)\n"
    )["benchmark"]
    says(
        checks.benchmark(mine, FakeLLM()), "wrong", "vlesson.workflows.bench.run_bench"
    )


def test_benchmark_on_a_class_server_grades_on_sample_latencies():
    says(checks.benchmark(bonus_answers()["benchmark"], FakeServer()), "right")
