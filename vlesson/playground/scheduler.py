"""The scheduler made visible: vLLM's own gauges, sampled while a batch runs.

``with vl.scheduler.watch(llm): outputs = llm.generate(...)`` samples, a few times a
second, what vLLM's scheduler reports: requests running and waiting, the share of
KV-cache blocks in use, and counters of generated tokens and prefix-cache hits. The
source is ``llm.get_metrics()`` (vLLM's Prometheus registry, in this process) or a
server's ``/metrics`` page; in a notebook the plot redraws while the batch runs.

vLLM keeps these statistics only when the engine logs them: ``LLM(...)`` turns them
off unless it gets ``disable_log_stats=False`` (``vl.get_llm(disable_log_stats=False)``).
"""

from __future__ import annotations

import contextlib
import dataclasses
import io
import threading
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping
from typing import Any, Self

from vlesson.facts import engine_facts

SERIES = {
    "vllm:num_requests_running": "running",
    "vllm:num_requests_waiting": "waiting",
    "vllm:kv_cache_usage_perc": "kv_cache_usage",
    "vllm:generation_tokens": "generation_tokens",
    "vllm:prefix_cache_queries": "prefix_cache_queries",
    "vllm:prefix_cache_hits": "prefix_cache_hits",
}
"""vLLM's metric name -> the sample's field (gauges, then counters)."""


@dataclasses.dataclass(frozen=True)
class Sample:
    """The scheduler's state at one moment."""

    seconds: float
    """Since the watch started."""
    running: float = 0.0
    """Requests in the running batch (one token each per step)."""
    waiting: float = 0.0
    """Requests queued until a slot or KV-cache blocks free up."""
    kv_cache_usage: float = 0.0
    """Share of KV-cache blocks in use, 0-1."""
    generation_tokens: float = 0.0
    """Tokens generated since the engine started (a counter)."""
    prefix_cache_queries: float = 0.0
    """Prompt tokens looked up in the prefix cache (a counter)."""
    prefix_cache_hits: float = 0.0
    """Of those, tokens found there: their KV was not computed again (a counter)."""


def read_metrics(metrics: Iterable[Any]) -> dict[str, float]:
    """Sum ``llm.get_metrics()``'s values per field of ``Sample`` (labels summed,
    the KV-cache share as the largest)."""
    values: dict[str, float] = {}
    for metric in metrics:
        field = SERIES.get(getattr(metric, "name", ""))
        value = getattr(metric, "value", None)
        if field is None or not isinstance(value, (int, float)):
            continue
        values[field] = _combine(field, values.get(field), float(value))
    return values


def parse_prometheus(text: str) -> dict[str, float]:
    """Read the same fields from a server's ``/metrics`` page (Prometheus text)."""
    values: dict[str, float] = {}
    for line in text.splitlines():
        if not line or line.startswith("#"):
            continue
        name_labels, _, rest = line.rpartition(" ")
        if not name_labels:
            continue
        name = name_labels.split("{", 1)[0]
        name = name.removesuffix("_total")
        field = SERIES.get(name)
        if field is None:
            continue
        try:
            value = float(rest)
        except ValueError:
            continue
        values[field] = _combine(field, values.get(field), value)
    return values


def _combine(field: str, old: float | None, new: float) -> float:
    if old is None:
        return new
    return max(old, new) if field == "kv_cache_usage" else old + new


def summarize(samples: list[Sample]) -> dict[str, float]:
    """Peak running, waiting and KV-cache share, and the tokens generated meanwhile."""
    if not samples:
        return {"samples": 0}
    first, last = samples[0], samples[-1]
    queries = last.prefix_cache_queries - first.prefix_cache_queries
    hits = last.prefix_cache_hits - first.prefix_cache_hits
    return {
        "samples": len(samples),
        "max_running": max(s.running for s in samples),
        "max_waiting": max(s.waiting for s in samples),
        "max_kv_cache_usage": max(s.kv_cache_usage for s in samples),
        "generation_tokens": last.generation_tokens - first.generation_tokens,
        "prefix_cache_hit_rate": hits / queries if queries else 0.0,
        "seconds": last.seconds,
    }


def metrics_source(llm: Any) -> Callable[[], dict[str, float]]:
    """Return a function reading the engine's gauges now: in this process
    (``llm.get_metrics()``) or a server's ``/metrics`` (a ``RemoteLLM``)."""
    server = getattr(llm, "server", None)
    if isinstance(server, str):
        url = server.removesuffix("/").removesuffix("/v1") + "/metrics"
        # A class server with a key guards /metrics too (serving/classroom_key.py).
        key = getattr(llm, "api_key", None)
        headers = {"Authorization": f"Bearer {key}"} if key else {}

        def read_remote() -> dict[str, float]:
            request = urllib.request.Request(url, headers=headers)
            with urllib.request.urlopen(request, timeout=5) as response:
                return parse_prometheus(response.read().decode())

        return read_remote
    engine = getattr(llm, "llm_engine", None)
    if engine is not None and not getattr(engine, "log_stats", True):
        raise RuntimeError(
            "this engine keeps no statistics (LLM() turns them off by default): start "
            "it with vl.get_llm(disable_log_stats=False), or LLM(..., "
            "disable_log_stats=False)"
        )
    return lambda: read_metrics(llm.get_metrics())


class SchedulerWatch:
    """Samples the scheduler in a background thread while the caller's batch runs."""

    def __init__(
        self,
        read: Callable[[], Mapping[str, float]],
        *,
        interval: float = 0.2,
        live: bool = True,
        refresh: float = 1.0,
    ) -> None:
        self.read = read
        self.interval = interval
        self.refresh = refresh
        self.samples: list[Sample] = []
        self.errors: list[str] = []
        self._stop = threading.Event()
        self._threads: list[threading.Thread] = []
        self._view = _LiveView() if live and _in_kernel() else None

    def __enter__(self) -> Self:
        self._start = time.perf_counter()
        self._take()
        self._threads = [threading.Thread(target=self._sample_loop, daemon=True)]
        if self._view is not None:  # drawing takes ~0.1 s: never in the sampling loop
            self._threads.append(threading.Thread(target=self._draw_loop, daemon=True))
        for thread in self._threads:
            thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self._stop.set()
        for thread in self._threads:
            thread.join()
        self._take()
        if self._view is not None:
            self._view.draw(self.samples)

    def _take(self) -> None:
        try:
            values = self.read()
        except (OSError, ValueError, RuntimeError, AssertionError) as exc:
            # a failed read must not break the learner's batch
            self.errors.append(f"{type(exc).__name__}: {exc}")
            return
        seconds = time.perf_counter() - self._start
        self.samples.append(Sample(seconds=seconds, **values))

    def _sample_loop(self) -> None:
        while not self._stop.wait(self.interval):
            self._take()

    def _draw_loop(self) -> None:
        while not self._stop.wait(self.refresh):
            with contextlib.suppress(Exception):
                self._view.draw(list(self.samples))

    def summary(self) -> dict[str, float]:
        """Peaks of the run (see ``summarize``)."""
        return summarize(self.samples)

    def frame(self) -> Any:
        """The samples as a pandas DataFrame, one row each."""
        import pandas as pd

        return pd.DataFrame([dataclasses.asdict(s) for s in self.samples])

    def figure(self) -> Any:
        """A matplotlib Figure of the samples (no pyplot: safe from any thread)."""
        return render(self.samples)

    def _repr_png_(self) -> bytes:
        return _png(self.figure())


def watch(
    llm: Any,
    *,
    interval: float | None = None,
    live: bool = True,
    refresh: float = 1.0,
) -> SchedulerWatch:
    """Watch vLLM's scheduler while the ``with`` block runs; plots live in a notebook.

    Args:
        llm: the engine (``vl.get_llm(disable_log_stats=False)``) or a ``RemoteLLM``.
        interval: seconds between two samples; default 0.2, or 0.02 for a local GPU
            engine, which finishes notebook 04's batch of 24 in well under 0.2 s.
        live: redraw the plot in the notebook while the block runs.
        refresh: seconds between two redraws.
    """
    source = metrics_source(llm)
    if interval is None:
        interval = 0.02 if engine_facts(llm).device == "gpu" else 0.2
    return SchedulerWatch(source, interval=interval, live=live, refresh=refresh)


def render(samples: list[Sample]) -> Any:
    """Draw requests running / waiting and the KV-cache share over time."""
    from matplotlib.figure import Figure

    fig = Figure(figsize=(9, 3.2))
    ax, kv = fig.subplots(1, 2)
    t = [s.seconds for s in samples]
    ax.step(t, [s.running for s in samples], where="post", label="running")
    ax.step(t, [s.waiting for s in samples], where="post", label="waiting")
    ax.set(xlabel="seconds", ylabel="requests", title="vLLM's scheduler")
    ax.legend(loc="upper right")
    kv.plot(t, [100 * s.kv_cache_usage for s in samples], color="tab:green")
    kv.set(xlabel="seconds", ylabel="% of blocks", title="KV cache in use")
    kv.set_ylim(bottom=0)
    fig.tight_layout()
    return fig


def _png(fig: Any) -> bytes:
    buffer = io.BytesIO()
    fig.savefig(buffer, format="png", dpi=72)
    return buffer.getvalue()


def _in_kernel() -> bool:
    try:
        from IPython import get_ipython
    except ImportError:
        return False
    shell = get_ipython()
    return shell is not None and getattr(shell, "kernel", None) is not None


class _LiveView:
    """An ipywidgets Image redrawn from the sampling thread (widgets sync from any
    thread; pyplot is not used, so no GUI state is touched)."""

    def __init__(self) -> None:
        import ipywidgets as widgets
        from IPython.display import display

        self.image = widgets.Image(format="png")
        display(self.image)

    def draw(self, samples: list[Sample]) -> None:
        if samples:
            self.image.value = _png(render(samples))
