"""Sweep grid, file names, ranking and plots on a made-up table; no engine."""

from __future__ import annotations

import matplotlib

matplotlib.use("Agg")

import pandas as pd
import pytest

from tests.lesson_answers import sweep_table as table
from vlesson.sampling import ParamError
from vlesson.workflows import sweep


def test_the_default_grid_is_the_exercises_25_combinations():
    combos = sweep.combinations()
    assert len(combos) == 25 and len({tuple(c.items()) for c in combos}) == 25
    assert combos[0] == {"temperature": 0.3, "top_p": 0.7}
    assert combos[-1] == {"temperature": 1.1, "top_p": 0.99}
    assert sweep.file_name(combos[1]) == "results_temp0.3_topp0.8.txt"
    assert sweep.file_name({"top_k": 20}) == "results_top_k20.txt"


def test_parse_grid_and_its_errors():
    grid = sweep.parse_grid(["temperature=0.2,0.9", "top-k=5,50"])
    assert grid == {"temperature": [0.2, 0.9], "top_k": [5, 50]}
    assert isinstance(grid["top_k"][0], int)
    with pytest.raises(ParamError, match="NAME=V1,V2"):
        sweep.parse_grid(["temp=0.2"])
    with pytest.raises(ParamError, match="numbers separated by commas"):
        sweep.parse_grid(["top_p=0.2;0.3"])


def test_check_grid_rejects_a_bad_value_before_any_engine():
    with pytest.raises(ParamError, match="top_p must be in"):
        sweep.check_grid({"temperature": [0.5], "top_p": [0.9, 1.5]})
    with pytest.raises(ParamError, match="no values"):
        sweep.check_grid({"temperature": []})


def test_recommend_names_the_goal_the_deciding_metric_and_the_winner():
    diverse = sweep.recommend(table(), "diverse")
    assert diverse.params == {"temperature": 0.7, "top_p": 0.95}
    assert diverse.metric == "distinct_2" and "decided by distinct_2" in str(diverse)
    coherent = sweep.recommend(table(), "coherent")
    assert coherent.params == {"temperature": 0.3, "top_p": 0.8}
    assert coherent.metric == "mean_logprob"
    fallback = sweep.recommend(table(), "diverse", min_mean_logprob=0.0)
    assert "no combination is coherent" in fallback.reason
    with pytest.raises(ValueError, match="diverse, coherent"):
        sweep.recommend(table(), "best")


def test_summary_heatmap_and_save(tmp_path):
    means = sweep.summary(table())
    assert len(means) == 6 and means["num_tokens"].eq(8).all()
    ax = sweep.heatmap(table(), "distinct_2")
    assert ax.get_xlabel() == "top_p" and ax.get_ylabel() == "temperature"
    assert ax.images[0].get_array().shape == (3, 2)
    written = sweep.save(table(), tmp_path, metric="mean_logprob")
    names = {p.name for p in written}
    assert "results_temp0.7_topp0.95.txt" in names and "sweep.csv" in names
    assert "heatmap_mean_logprob.png" in names and len(names) == 8
    text = (tmp_path / "results_temp0.7_topp0.95.txt").read_text()
    assert text.count("Prompt: ") == 2
    assert len(pd.read_csv(tmp_path / "sweep.csv")) == 12


def test_a_tie_on_the_deciding_metric_is_explained():
    tied = table().assign(distinct_2=1.0)
    best = sweep.recommend(tied, "diverse")
    assert best.params == {"temperature": 0.7, "top_p": 0.95}  # boldest coherent one
    assert "share it" in best.reason and "broke the tie" in best.reason
