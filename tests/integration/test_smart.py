"""The smart generator on the real engine: one call, ranked, report parsed back."""

from __future__ import annotations

import subprocess
import sys

import pytest

from vlesson.workflows import report, smart


def test_strategies_run_through_the_chat_template_in_one_call(llm, monkeypatch):
    calls = []
    original = llm.generate
    monkeypatch.setattr(
        llm, "generate", lambda *a, **k: calls.append(a) or original(*a, **k)
    )

    def run():
        return smart.run_smart(
            llm,
            "Future of renewable energy",
            num_variations=2,
            strategies=["focused", "wild"],
            max_tokens=24,
            use_tqdm=False,
        )

    result = run()
    assert len(calls) == 1 and len(calls[0][0]) == 4  # 2 strategies x 2 seeds, 1 call
    assert result.prompt.startswith("<|im_start|>") and "renewable" in result.prompt
    table = result.table
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert sorted(table["seed"]) == [0, 0, 1, 1]
    assert (table["num_tokens"] <= 24).all() and table["mean_logprob"].lt(0).all()
    by = result.by_strategy().set_index("strategy")
    # The model finds its focused text likelier than its temperature-1.5 text.
    assert by.loc["focused", "coherence"] > by.loc["wild", "coherence"]
    again = run()
    assert list(again.table["text"]) == list(table["text"])  # seeded: repeats


def test_cli_writes_a_report_whose_tables_parse_back(tmp_path):
    out = tmp_path / "results.md"
    cmd = [
        sys.executable,
        "-m",
        "vlesson",
        "smart",
        "--topic",
        "Future of renewable energy",
        "--num-variations",
        "2",
        "--strategies",
        "focused,balanced,wild",
        "--max-tokens",
        "24",
        "--weights",
        "coherence=0.5,distinct_2=0.5",
        "--output",
        str(out),
    ]
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 0, result.stderr[-3000:]
    assert "score = 0.5 coherence + 0.5 distinct_2" in result.stdout
    tables = report.parse_md_tables(out.read_text())
    comparison = tables["Strategy comparison"]
    assert [r["strategy"] for r in comparison] != [] and len(comparison) == 3
    means = [float(r["mean_score"]) for r in comparison]
    assert means == sorted(means, reverse=True)
    rows = tables["All outputs"]
    assert [int(r["rank"]) for r in rows] == list(range(1, 7))
    for row in rows:
        expected = 0.5 * float(row["coherence"]) + 0.5 * float(row["distinct_2"])
        assert float(row["score"]) == pytest.approx(expected, abs=2e-3)
    assert (tmp_path / "results_effects.png").stat().st_size > 1000


def test_cli_rejects_bad_weights_before_any_engine(tmp_path):
    cmd = [
        sys.executable,
        "-m",
        "vlesson",
        "smart",
        "--topic",
        "x",
        "--weights",
        "coherense=1",
        "--output",
        str(tmp_path / "r.md"),
    ]
    result = subprocess.run(
        cmd, capture_output=True, text=True, timeout=600, check=False
    )
    assert result.returncode == 2 and "unknown metric 'coherense'" in result.stderr
    assert not (tmp_path / "r.md").exists()
