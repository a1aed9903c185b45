"""The smart generator's Markdown report: cells, fences, parsing back, the formula."""

from __future__ import annotations

import pytest

from vlesson.workflows import report


def test_md_cell_escapes_and_round_trips():
    raw = "a | b\nc <i>d</i> \\ e"
    cell = report.md_cell(raw)
    assert "\n" not in cell and "<i>" not in cell and "\\|" in cell
    assert report.unescape_cell(cell) == raw


def test_markdown_report_parses_back(result, tmp_path):
    path = report.write_smart_report(result, tmp_path / "results.md")
    text = path.read_text()
    plot = tmp_path / "results_effects.png"
    assert plot.read_bytes()[:4] == b"\x89PNG" and f"]({plot.name})" in text
    assert text.startswith("# Smart content: Future \\| energy")
    tables = report.parse_md_tables(text)
    comparison = tables["Strategy comparison"]
    assert {r["strategy"] for r in comparison} == {"focused", "wild"}
    assert {r["outputs"] for r in comparison} == {"2"}
    rows = tables["All outputs"]
    assert [int(r["rank"]) for r in rows] == [1, 2, 3, 4]
    scores = [float(r["score"]) for r in rows]
    assert scores == pytest.approx(list(result.table["score"]), abs=1e-3)
    assert "Solar power | wind power and <b>hydro</b> grow `fast`." in {
        r["text"] for r in rows
    }
    stats = {r["metric"]: r for r in tables["Summary statistics"]}
    assert float(stats["score"]["max"]) == pytest.approx(max(scores), abs=1e-3)
    assert "```text\n" + result.table["text"][0] + "\n```" in text  # best output
    assert not list(tmp_path.glob("*partial*"))


def test_fence_outgrows_backticks_in_the_text():
    assert report.fenced("a ``` b") == "````text\na ``` b\n````"


def test_parse_rejects_a_broken_table():
    with pytest.raises(ValueError, match="cells"):
        report.parse_md_tables("| a | b |\n| --- | --- |\n| 1 | 2 | 3 |\n")


def test_weights_formula_reads_as_stated():
    assert report.weights_formula({"coherence": 0.4, "repetition": -0.2}) == (
        "score = 0.4 coherence - 0.2 repetition"
    )
