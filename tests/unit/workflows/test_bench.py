"""The benchmark: parameters from the command line, vLLM's counters, the cross-check,
the CSV and plot."""

from __future__ import annotations

from types import SimpleNamespace

import pandas as pd
import pytest

from vlesson.workflows import bench


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


def test_cross_check_flags_disagreement():
    assert bench.cross_check(_results())["ok"].all()
    assert not bench.cross_check(_results(gen_tok_s=200.0))["ok"].any()
    assert not bench.cross_check(_results(gen_tokens=255))["ok"].any()


def test_write_bench_writes_csv_and_plot(tmp_path):
    csv, plot = bench.write_bench(_results(), tmp_path / "b.csv")
    assert pd.read_csv(csv)["gen_tok_s"].tolist() == [290.0]
    assert plot.read_bytes()[:4] == b"\x89PNG"
