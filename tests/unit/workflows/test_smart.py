"""The smart generator: weights, strategies, scores and the rerank."""

from __future__ import annotations

import math

import pytest

from vlesson.workflows import smart


def test_weights_parse_validate_and_default():
    assert smart.parse_weights(None) == smart.WEIGHTS
    assert smart.parse_weights("coherence=1, repetition=-0.5") == {
        "coherence": 1.0,
        "repetition": -0.5,
    }
    with pytest.raises(ValueError, match="unknown metric 'coherense'"):
        smart.parse_weights("coherense=1")
    with pytest.raises(ValueError, match="name=number"):
        smart.parse_weights("coherence")
    with pytest.raises(ValueError, match="all 0"):
        smart.parse_weights({"coherence": 0})


def test_strategies_by_name_or_mapping():
    assert list(smart.pick_strategies(["wild", "focused"])) == ["wild", "focused"]
    assert smart.pick_strategies({"mine": {"temperature": 0.2}}) == {
        "mine": {"temperature": 0.2}
    }
    with pytest.raises(ValueError, match="unknown strategy 'hot'"):
        smart.pick_strategies(["hot"])


def test_score_is_the_stated_weighted_sum_and_ranks_follow_it(result):
    table = result.table
    for row in table.to_dict("records"):
        expected = sum(w * row[m] for m, w in smart.WEIGHTS.items())
        assert row["score"] == pytest.approx(expected, abs=1e-3)
        assert row["coherence"] == pytest.approx(
            math.exp(row["mean_logprob"]), rel=1e-3
        )
    assert list(table["rank"]) == [1, 2, 3, 4]
    assert list(table["score"]) == sorted(table["score"], reverse=True)
    assert table.iloc[-1]["text"].startswith("zq")  # noise ranks last


def test_rerank_reorders_the_same_outputs_without_generating(result):
    diverse = smart.rerank(result, "distinct_2=1")
    assert sorted(diverse.table["text"]) == sorted(result.table["text"])
    assert list(diverse.table["distinct_2"]) == sorted(
        diverse.table["distinct_2"], reverse=True
    )
    assert diverse.weights == {"distinct_2": 1.0}
