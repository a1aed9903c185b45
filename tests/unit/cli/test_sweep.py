"""`vlesson sweep`: the recommendation line and the heatmap's default metric."""

from __future__ import annotations


def test_the_sweep_recommendation_names_its_goal_once():
    from vlesson.cli import sweep as sweep_cli
    from vlesson.workflows.sweep import Recommendation

    rec = Recommendation(
        {"temperature": 0.9},
        "diverse",
        "distinct_2",
        1.0,
        "diverse: temperature=0.9 - highest distinct_2 (1.000)",
    )
    line = sweep_cli.recommendation_line(rec)
    assert line.startswith("recommended for diverse: temperature=0.9")
    assert "diverse: diverse" not in line


def test_the_default_heatmap_metric_varies_with_the_settings():
    from vlesson.cli import sweep as sweep_cli
    from vlesson.workflows import sweep

    assert sweep_cli.build_parser().get_default("metric") == sweep.HEATMAP_METRIC
    assert sweep.HEATMAP_METRIC == "mean_logprob"  # distinct_2 at 32 tokens: all 1.00
