"""Benchmark, memory and quantization helpers without an engine."""

from __future__ import annotations

import mmap
import time
from types import SimpleNamespace

import pandas as pd
import pytest

from vlesson.workflows import bench, memory, quantization


def test_params_on_the_command_line_are_parsed_and_checked():
    assert bench.parse_config("temperature=0.8, top_p=0.9,top_k=20") == {
        "temperature": 0.8,
        "top_p": 0.9,
        "top_k": 20,
    }
    assert bench.config_label({"temperature": 0.8, "top_p": 0.9}) == (
        "temperature=0.8,top_p=0.9"
    )
    with pytest.raises(ValueError, match="did you mean 'temperature'"):
        bench.parse_config("temprature=1")
    with pytest.raises(ValueError, match="top_p must be in"):
        bench.parse_config("top_p=1.5")
    with pytest.raises(ValueError, match="must be a number"):
        bench.parse_config("temperature=hot")


def test_vllm_counters_sum_label_sets_and_keep_histograms():
    fake = SimpleNamespace(
        get_metrics=lambda: [
            SimpleNamespace(name="vllm:generation_tokens", value=10),
            SimpleNamespace(name="vllm:request_success", value=2),
            SimpleNamespace(name="vllm:request_success", value=3),
            SimpleNamespace(name="vllm:time_to_first_token_seconds", sum=0.5, count=4),
        ]
    )
    totals = bench.vllm_counters(fake)
    assert totals["vllm:request_success"] == 5
    assert totals["vllm:time_to_first_token_seconds:count"] == 4


def _results(**change):
    row = {
        "model": "m",
        "config": "temperature=0",
        "batch_size": 8,
        "gen_tokens": 256,
        "vllm_gen_tokens": 256,
        "prompt_tokens": 40,
        "vllm_prompt_tokens": 40,
        "ttft_mean_s": 0.06,
        "vllm_ttft_mean_s": 0.06,
        "gen_tok_s": 290.0,
        "vllm_gen_tok_s": 291.0,
        "peak_rss_mib": 2000.0,
        "batch": 8,
    }
    return pd.DataFrame([{**row, **change}])


def test_cross_check_flags_disagreement():
    assert bench.cross_check(_results())["ok"].all()
    assert not bench.cross_check(_results(gen_tok_s=200.0))["ok"].any()
    assert not bench.cross_check(_results(gen_tokens=255))["ok"].any()


def test_write_bench_writes_csv_and_plot(tmp_path):
    csv, plot = bench.write_bench(_results(), tmp_path / "b.csv")
    assert pd.read_csv(csv)["gen_tok_s"].tolist() == [290.0]
    assert plot.read_bytes()[:4] == b"\x89PNG"


def test_memory_monitor_samples_in_the_background():
    with memory.MemoryMonitor(interval=0.01) as monitor:
        # Fresh pages straight from the kernel: a malloc'd block could reuse memory the
        # process already holds (after an engine ran in it) and leave RSS unchanged.
        block = mmap.mmap(-1, 64 << 20)
        for page in range(0, len(block), mmap.PAGESIZE):
            block[page] = 1
        time.sleep(0.1)
    frame = monitor.frame()
    assert len(frame) >= 3 and list(frame.columns) == ["seconds", "rss_mib", "gpu_mib"]
    assert frame["seconds"].is_monotonic_increasing
    assert monitor.peak_rss_mib >= frame["rss_mib"].iloc[0] + 50
    assert monitor.peak_gpu_mib is None or monitor.peak_gpu_mib > 0
    block.close()


def test_gptq_packing_round_trips_within_half_a_step():
    import torch

    weight = torch.randn(192, 576)
    packed = quantization.pack_gptq(weight, 64)
    assert packed["qweight"].shape == (72, 192) and packed["scales"].shape == (9, 192)
    back = quantization.unpack_gptq(packed)
    step = packed["scales"].float()[packed["g_idx"].long()].t()
    assert ((back - weight).abs() <= step / 2 + 1e-3).all()
    with pytest.raises(ValueError, match="group_size"):
        quantization.pack_gptq(weight, 128)


def test_agreement_counts_equal_positions():
    assert quantization.agreement([[1, 2, 3]], [[1, 2, 3]]) == 1.0
    assert quantization.agreement([[1, 2, 3, 4]], [[1, 9, 3]]) == 0.5
