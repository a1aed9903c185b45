"""vl.scheduler's pure parts: reading vLLM's metrics, a server's /metrics page, the
summary, the sampling thread and the plot (the engine: tests/integration)."""

from __future__ import annotations

import itertools
import time
from types import SimpleNamespace

import pytest

from vlesson.playground import scheduler


def metric(name, value, **labels):
    from vllm.v1.metrics.reader import Counter, Gauge

    kind = Counter if name.endswith(("tokens", "queries", "hits")) else Gauge
    return kind(name=name, labels=labels, value=value)


def test_read_metrics_keeps_the_scheduler_series_and_sums_labels():
    got = scheduler.read_metrics(
        [
            metric("vllm:num_requests_running", 3.0, engine="0"),
            metric("vllm:num_requests_running", 2.0, engine="1"),
            metric("vllm:num_requests_waiting", 4.0),
            metric("vllm:kv_cache_usage_perc", 0.25, engine="0"),
            metric("vllm:kv_cache_usage_perc", 0.5, engine="1"),
            metric("vllm:generation_tokens", 120),
            metric("vllm:prompt_tokens", 999),  # not a series of ours
        ]
    )
    assert got == {
        "running": 5.0,
        "waiting": 4.0,
        "kv_cache_usage": 0.5,  # the fullest engine, not a sum of shares
        "generation_tokens": 120.0,
    }


PAGE = """\
# HELP vllm:num_requests_running Number of requests in model execution batches.
# TYPE vllm:num_requests_running gauge
vllm:num_requests_running{engine="0",model_name="m"} 7.0
vllm:num_requests_waiting{engine="0",model_name="m"} 2.0
vllm:kv_cache_usage_perc{engine="0",model_name="m"} 0.125
# TYPE vllm:generation_tokens counter
vllm:generation_tokens_total{engine="0",model_name="m"} 300.0
vllm:generation_tokens_created{engine="0",model_name="m"} 1.7e9
vllm:prefix_cache_hits_total{engine="0",model_name="m"} 256.0
vllm:prefix_cache_queries_total{engine="0",model_name="m"} 512.0
python_gc_objects_collected_total{generation="0"} 1.0
"""


def test_parse_prometheus_reads_a_servers_metrics_page():
    assert scheduler.parse_prometheus(PAGE) == {
        "running": 7.0,
        "waiting": 2.0,
        "kv_cache_usage": 0.125,
        "generation_tokens": 300.0,
        "prefix_cache_hits": 256.0,
        "prefix_cache_queries": 512.0,
    }


def test_summary_gives_peaks_and_what_happened_meanwhile():
    samples = [
        scheduler.Sample(0.0, generation_tokens=100, prefix_cache_queries=10),
        scheduler.Sample(
            0.5,
            running=24,
            kv_cache_usage=0.2,
            generation_tokens=300,
            prefix_cache_queries=110,
            prefix_cache_hits=80,
        ),
        scheduler.Sample(
            1.0,
            running=3,
            generation_tokens=400,
            prefix_cache_queries=110,
            prefix_cache_hits=80,
        ),
    ]
    got = scheduler.summarize(samples)
    assert got["max_running"] == 24 and got["max_kv_cache_usage"] == 0.2
    assert got["generation_tokens"] == 300
    assert got["prefix_cache_hit_rate"] == pytest.approx(0.8)
    assert scheduler.summarize([]) == {"samples": 0}


def test_watch_samples_while_the_block_runs_and_survives_a_failed_read():
    counter = itertools.count()

    def read():
        n = next(counter)
        if n == 3:
            raise OSError("server went away")
        return {"running": float(n)}

    with scheduler.SchedulerWatch(read, interval=0.01, live=False) as watch:
        time.sleep(0.2)
    assert len(watch.samples) >= 5
    assert watch.errors == ["OSError: server went away"]
    assert watch.summary()["max_running"] >= 4
    assert list(watch.frame().columns)[:3] == ["seconds", "running", "waiting"]
    assert watch._repr_png_().startswith(b"\x89PNG")


def test_an_engine_without_statistics_is_refused_with_the_fix():
    llm = SimpleNamespace(llm_engine=SimpleNamespace(log_stats=False))
    with pytest.raises(RuntimeError, match="disable_log_stats=False"):
        scheduler.watch(llm)


def test_a_remote_engine_reads_the_servers_metrics_page(monkeypatch):
    seen = []

    class Page:
        def __enter__(self):
            return self

        def __exit__(self, *exc):
            return False

        def read(self):
            return PAGE.encode()

    def urlopen(request, timeout):
        seen.append(request.full_url)
        return Page()

    monkeypatch.setattr(scheduler.urllib.request, "urlopen", urlopen)
    read = scheduler.metrics_source(SimpleNamespace(server="http://host:8000/v1"))
    assert read()["running"] == 7.0
    assert seen == ["http://host:8000/metrics"]
