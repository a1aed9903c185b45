"""Checks of notebook 06's bonus, a benchmark built in steps: throughput and time to
first token of one batched call (from vLLM's per-request metrics), the peak memory of a
call, and the loop over models and batch sizes.

vlesson's own ``bench`` is the reference: an answer that calls it (or vlesson's memory
sampler) for its step is refused. No check sets a timing threshold: figures are checked
against the outputs they came from, never against how fast this machine is.
"""

from __future__ import annotations

import itertools
import math
import time
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from vlesson.engine import is_remote
from vlesson.exercises.grading import checkpoint
from vlesson.exercises.recording import Recorder

__all__ = ["bench_figures", "benchmark", "peak_memory"]

BENCH = "vlesson.workflows.bench"
MIB = 1 << 20

# -- step 1: throughput and time to first token of one call -------------------------------------------------------

BENCH_PROMPTS = ("The capital of France is", "Once upon a time", "The future of AI is")


@checkpoint("bonus", refuse=(f"{BENCH}.measure",))
def bench_figures(fn: Callable[[list[Any], float], Mapping[str, Any]], llm: Any) -> str:
    """Check ``fn(outputs, seconds) -> {"gen_tok_s", "ttft_mean_s", "total_s"}``."""
    from vllm import SamplingParams

    params = SamplingParams(temperature=0, max_tokens=12, ignore_eos=True)
    start = time.perf_counter()
    outputs = llm.generate(list(BENCH_PROMPTS) * 2, params, use_tqdm=False)
    seconds = time.perf_counter() - start
    sampled = is_remote(llm)
    if sampled:  # a server's answers carry no per-request metrics
        _sample_latencies(outputs)
    assert all(o.metrics is not None for o in outputs), (
        "this engine keeps no per-request metrics: start it with "
        "vl.get_llm(disable_log_stats=False)"
    )
    got = fn(list(outputs), seconds)
    for key in ("gen_tok_s", "ttft_mean_s", "total_s"):
        assert isinstance(got, Mapping) and key in got, (
            f"return a dict with gen_tok_s, ttft_mean_s and total_s (missing {key})"
        )
    _near(got["total_s"], seconds, "total_s should be the seconds you got")
    want = _check_figures(got, outputs, seconds)
    if sampled:
        return (
            f"{want['gen_tok_s']:.0f} generated tokens/s from the server; your "
            "first-token latency is right on sample figures only: a server keeps each "
            "request's metrics to itself (its /metrics page has them in sum)"
        )
    return (
        f"{want['gen_tok_s']:.0f} generated tokens/s, first token after "
        f"{1000 * want['ttft_mean_s']:.0f} ms on average: throughput and latency "
        "answer different questions"
    )


def _check_figures(
    got: Mapping[str, Any], outputs: Sequence[Any], seconds: float, where: str = ""
) -> dict[str, float]:
    """Assert gen_tok_s and ttft_mean_s of one call; return the right figures."""
    tokens = sum(len(o.outputs[0].token_ids) for o in outputs)
    prompt = sum(len(o.prompt_token_ids or ()) for o in outputs)
    ttfts = [o.metrics.first_token_latency for o in outputs]
    want = {"gen_tok_s": tokens / seconds, "ttft_mean_s": sum(ttfts) / len(ttfts)}
    rate = got["gen_tok_s"]
    if not (isinstance(rate, (int, float)) and _close(rate, want["gen_tok_s"])):
        rate = rate if isinstance(rate, (int, float)) else math.nan
        hint = (
            "that is the mean of each request's rate: a batch's throughput is all "
            "generated tokens over the batch's time"
            if _close(rate * len(outputs), want["gen_tok_s"])
            else "prompt tokens are read, not generated: count the generated ones"
            if _close(rate, (tokens + prompt) / seconds)
            else "count tokens (token_ids), not characters or words"
        )
        raise AssertionError(
            f"{where}gen_tok_s is {rate:.1f}, want {want['gen_tok_s']:.1f}: {hint}"
        )
    ttft = got["ttft_mean_s"]
    if not (isinstance(ttft, (int, float)) and _close(ttft, want["ttft_mean_s"])):
        ttft = ttft if isinstance(ttft, (int, float)) else math.nan
        hint = (
            "that is the slowest request's; take the mean"
            if _close(ttft, max(ttfts))
            else "that is time per token; the first token's latency is in each "
            "output's metrics (vLLM measures it from arrival)"
            if _close(ttft, seconds / max(tokens / len(outputs), 1))
            else "read each RequestOutput's metrics: vLLM records when the first "
            "token came"
        )
        raise AssertionError(
            f"{where}ttft_mean_s is {ttft:.4f}, want {want['ttft_mean_s']:.4f}: {hint}"
        )
    return want


SAMPLE_LATENCIES = (0.031, 0.047, 0.052, 0.068, 0.075, 0.094)
"""Made-up first-token latencies (seconds), different per request so that the mean and
the slowest differ."""


def _sample_latencies(outputs: Sequence[Any]) -> None:
    from vllm.v1.metrics.stats import RequestStateStats

    for output, latency in zip(outputs, itertools.cycle(SAMPLE_LATENCIES)):
        output.metrics = RequestStateStats(first_token_latency=latency)


def _close(a: float, b: float) -> bool:
    return math.isclose(float(a), float(b), rel_tol=0.02, abs_tol=1e-6)


def _near(a: Any, b: float, message: str) -> None:
    assert isinstance(a, (int, float)) and _close(float(a), b), (
        f"{message} ({b:.3f}), got {a!r}"
    )


# -- step 2: the peak memory of one call ------------------------------------------------

PEAK_MIB, HOLD_S = 256, 0.4
"""The check's call holds this much more RAM for this long, then frees it."""


@checkpoint("bonus", refuse=("vlesson.workflows.memory.rss_mib", f"{BENCH}.measure"))
def peak_memory(fn: Callable[[Callable[[], Any]], Any]) -> str:
    """Check ``fn(work) -> (work's result, peak RSS in MiB while work ran)``."""
    import psutil

    process = psutil.Process()
    token = object()

    def work() -> object:
        block = b"\x01" * (PEAK_MIB * MIB)  # written, so resident
        time.sleep(HOLD_S)
        del block
        return token

    before = process.memory_info().rss / MIB
    got = fn(work)
    after = process.memory_info().rss / MIB
    assert isinstance(got, tuple) and len(got) == 2, (
        f"your function returned {type(got).__name__}: return a pair, (what work() "
        "returned, the peak in MiB) - a benchmark measures the work and keeps its "
        "result"
    )
    result, peak = got
    assert result is token, (
        "the first item is not what work() returned: call it once, inside the "
        "measurement, and return its result"
    )
    assert isinstance(peak, (int, float)), f"the peak is {peak!r}: a number of MiB"
    held = max(before, after)
    assert peak < 50 * held, (
        f"the peak is {peak:,.0f}: that is bytes or KiB, not MiB (the process holds "
        f"about {held:,.0f} MiB) - MiB = bytes / 2**20"
    )
    assert peak >= held + 0.6 * PEAK_MIB, (
        f"your peak, {peak:,.0f} MiB, is about what the process holds before and "
        f"after ({held:,.0f} MiB), but the call held {PEAK_MIB} MiB more for "
        f"{HOLD_S} s and freed it: sample while it runs, from a thread, every 0.05 s "
        "or so, and keep the highest"
    )
    assert peak <= held + 2 * PEAK_MIB + 64, (
        f"your peak, {peak:,.0f} MiB, is more than the process ever held (about "
        f"{held + PEAK_MIB:,.0f} MiB): keep the highest sample, not a sum"
    )
    return (
        f"you saw {peak - held:,.0f} MiB above the {held:,.0f} MiB before and after: "
        "a peak exists only while the work runs, so it is sampled during the call"
    )


# -- step 3: the loop over models and batch sizes --------------------------------------

LOOP_MODELS = ("smollm2-135m-instruct", "gemma-3-270m")
LOOP_SIZES, LOOP_MAX_TOKENS = (1, 3), 4
LOOP_KEYS = (
    "model",
    "batch_size",
    "gen_tok_s",
    "ttft_mean_s",
    "total_s",
    "peak_rss_mib",
)
"""The columns of ``vlesson bench``'s CSV that the learner's rows share."""


class _Loaded(Recorder):
    """The engine the check's ``load`` hands out: a recorder of the notebook's engine,
    with sample first-token latencies where a class server returns none."""

    def generate(self, *args: Any, **kwargs: Any) -> list[Any]:
        outputs = super().generate(*args, **kwargs)
        if is_remote(self._llm):
            _sample_latencies(outputs)
        return outputs


@checkpoint("bonus", refuse=(f"{BENCH}.run_bench", f"{BENCH}.measure"))
def benchmark(fn: Callable[..., Any], llm: Any) -> str:
    """Check ``fn(models, batch_sizes, *, load, max_tokens) -> rows``.

    Every model name is served by the notebook's own engine here (a second engine
    would cost the check a minute): ``load(name)`` returns a recorder of it.
    """
    loads: dict[str, list[_Loaded]] = {}

    def load(model: str) -> _Loaded:
        loads.setdefault(model, []).append(_Loaded(llm))
        return loads[model][-1]

    start = time.perf_counter()
    rows = fn(
        list(LOOP_MODELS), list(LOOP_SIZES), load=load, max_tokens=LOOP_MAX_TOKENS
    )
    wall = time.perf_counter() - start
    missing = [m for m in LOOP_MODELS if m not in loads]
    assert not missing, f"{missing[0]} was never loaded: load(name) each model given"
    calls = {m: _loop_calls(m, loaded) for m, loaded in loads.items()}
    assert all(
        o.metrics is not None
        for c in calls.values()
        for call in c.values()
        for o in call.outputs
    ), "this engine keeps no per-request metrics: vl.get_llm(disable_log_stats=False)"
    if hasattr(rows, "to_dict"):
        rows = rows.to_dict("records")
    cases = len(LOOP_MODELS) * len(LOOP_SIZES)
    assert isinstance(rows, Sequence) and len(rows) == cases, (
        f"return one row per model and batch size ({cases} rows)"
    )
    for row in rows:
        lost = [k for k in LOOP_KEYS if not isinstance(row, Mapping) or k not in row]
        assert not lost, (
            f"a row has no {lost[0]!r}: give each row the columns of vlesson bench's "
            f"CSV, {', '.join(LOOP_KEYS)}"
        )
        _check_loop_row(row, calls, wall)
    return (
        f"{cases} cases, one batched call each, every request exactly "
        f"{LOOP_MAX_TOKENS} tokens: the rows compare (here both names ran on the "
        "notebook's engine; vlesson bench below loads the two models)"
    )


def _loop_calls(model: str, loaded: list[_Loaded]) -> dict[int, Any]:
    assert len(loaded) == 1, (
        f"{model} was loaded {len(loaded)} times: load each model once and run every "
        "batch size on it (loading takes far longer than the benchmark)"
    )
    calls = loaded[0].calls
    if len(calls) == len(LOOP_SIZES) + 1:
        calls = calls[1:]  # a warm-up first
    sizes = [len(c.prompt_list) for c in calls]
    assert sizes == list(LOOP_SIZES), (
        f"on {model} your generate calls had {sizes} prompts for the batch sizes "
        f"{list(LOOP_SIZES)}: one batched call per batch size, with that many "
        "prompts (a warm-up call before them is fine)"
    )
    for call in calls:
        for p in call.params_list():
            assert p is not None and p.max_tokens == LOOP_MAX_TOKENS, (
                f"max_tokens is {getattr(p, 'max_tokens', None)}, the argument was "
                f"{LOOP_MAX_TOKENS}"
            )
            assert p.ignore_eos, (
                "a request can stop early at end-of-sequence, and then the cases do "
                "not compare: ignore_eos=True makes every one generate max_tokens"
            )
    return dict(zip(LOOP_SIZES, calls, strict=True))


def _check_loop_row(
    row: Mapping[str, Any], calls: Mapping[str, Any], wall: float
) -> None:
    model, size = row["model"], row["batch_size"]
    assert model in calls and size in calls[model], (
        f"a row is for model {model!r}, batch size {size!r}: name each row by the model "
        "and batch size it measured"
    )
    where = f"{model}, batch size {size}: "
    total = row["total_s"]
    assert isinstance(total, (int, float)) and 0 < total <= wall, (
        f"{where}total_s is {total!r}, but your whole function took {wall:.2f} s: "
        "time the generate call of this case"
    )
    _check_figures(row, calls[model][size].outputs, float(total), where)
    import psutil

    now = psutil.Process().memory_info().rss / MIB
    peak = row["peak_rss_mib"]
    assert isinstance(peak, (int, float)) and now / 3 <= peak <= now * 3, (
        f"{where}peak_rss_mib is {peak!r}, but this process holds about {now:,.0f} "
        "MiB: measure the call with your peak_memory"
    )
