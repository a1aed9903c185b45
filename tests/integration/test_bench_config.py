"""`vlesson bench` in subprocesses, and the focused 150-token configuration."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd

import vlesson as vl
from vlesson.cli import main as cli_main
from vlesson.workflows import bench

ROOT = Path(__file__).resolve().parents[2]


def vlesson(*args):
    return subprocess.run(
        [sys.executable, "-m", "vlesson", *args],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
    )


def test_bench_measures_ttft_and_agrees_with_vllms_own_figures(tmp_path):
    out = tmp_path / "bench.csv"
    result = vlesson(
        "bench",
        "--batch-sizes",
        "1",
        "8",
        "--max-tokens",
        "16",
        "--params",
        "temperature=0",
        "--params",
        "temperature=0.8,top_p=0.9",
        "--output",
        str(out),
    )
    assert result.returncode == 0, result.stdout[-2000:] + result.stderr[-3000:]
    assert "4/4 cases agree" in result.stdout
    frame = pd.read_csv(out)
    assert len(frame) == 4 and set(frame["batch_size"]) == {1, 8}
    assert (frame["gen_tokens"] == frame["batch_size"] * 16).all()  # ignore_eos
    assert (frame["ttft_mean_s"] > 0).all() and (
        frame["ttft_mean_s"] < frame["total_s"]
    ).all()
    assert (frame["peak_rss_mib"] > 100).all()
    check = bench.cross_check(frame)
    assert check["ok"].all() and check["tokens_match"].all()
    assert out.with_suffix(".png").stat().st_size > 1000


def test_bench_reports_a_hub_model_it_cannot_reach(tmp_path, monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_HOME", str(tmp_path))
    result = vlesson(
        "bench", "--model", "facebook/opt-125m", "--output", str(tmp_path / "b.csv")
    )
    assert result.returncode == 2  # a model that is not there is bad input
    assert "facebook/opt-125m" in result.stderr and "--model smollm2" in result.stderr


def test_focused_config_gives_exactly_150_tokens_for_every_prompt(tmp_path, llm, capsys):
    """In process, on the session's warm engine (the config sets sampling only, so
    `vlesson generate` reuses it); test_cli_generate.py runs the command as a learner."""
    config = ROOT / "configs" / "focused_150.json"
    settings = json.loads(config.read_text())
    assert settings["top_k"] == 20 and 0.3 <= settings["temperature"] <= 0.5
    assert settings["top_p"] <= 0.6
    out = tmp_path / "focused.jsonl"
    code = cli_main(["generate", "--config", str(config), "--output", str(out)])
    assert code == 0, capsys.readouterr().err[-3000:]
    assert vl.get_llm() is llm  # no second engine
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert len(rows) == 4 and [r["num_tokens"] for r in rows] == [150] * 4
    assert {r["params"]["top_k"] for r in rows} == {20}
