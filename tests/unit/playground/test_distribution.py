"""The next-token reshaping math: temperature, top-k, top-p and the rest mass."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from vlesson.playground.distribution import (
    candidates_from_step,
    entropy,
    first_difference,
    reshape,
    softmax_terms,
    temperature_curve,
)

# A known distribution: three candidates and 0.2 of mass outside them.
LOGPROBS = {" Paris": math.log(0.5), " the": math.log(0.2), " London": math.log(0.1)}


def after(r):
    return {c.token: c.after for c in r.candidates}


def total(r):
    return sum(c.after for c in r.candidates) + r.rest_after


def test_temperature_one_without_filters_changes_nothing():
    r = reshape(LOGPROBS)
    assert [c.before for c in r.candidates] == pytest.approx([0.5, 0.2, 0.1])
    assert list(after(r).values()) == pytest.approx([0.5, 0.2, 0.1])
    assert r.rest_before == pytest.approx(0.2) and r.rest_after == pytest.approx(0.2)
    assert r.rest_exact


def test_candidates_come_out_sorted_by_probability():
    r = reshape(dict(reversed(list(LOGPROBS.items()))))
    assert [c.token for c in r.candidates] == [" Paris", " the", " London"]


def test_temperature_zero_is_greedy():
    r = reshape(LOGPROBS, temperature=0)
    assert after(r) == {" Paris": 1.0, " the": 0.0, " London": 0.0}
    assert r.rest_after == 0.0 and r.rest_exact and r.kept == 1


def test_low_temperature_sharpens_and_high_flattens():
    cold, hot = reshape(LOGPROBS, temperature=0.5), reshape(LOGPROBS, temperature=1.5)
    assert after(cold)[" Paris"] > 0.5 > after(hot)[" Paris"]
    # Ratios follow p ** (1/T) exactly, whatever the rest holds.
    ratio = after(cold)[" Paris"] / after(cold)[" the"]
    assert ratio == pytest.approx((0.5 / 0.2) ** 2)
    assert total(cold) == pytest.approx(1.0) and total(hot) == pytest.approx(1.0)
    assert not cold.rest_exact and not hot.rest_exact


def test_rest_estimate_is_a_bound_in_the_documented_direction():
    # The rest (0.2) is modelled as two tokens of 0.1. Real rest tokens are each
    # <= 0.1, so at T < 1 the true rest weight is at most the estimate.
    cold = reshape(LOGPROBS, temperature=0.5)
    weights = {"P": 0.5**2, "t": 0.2**2, "L": 0.1**2}
    estimate = 2 * 0.1**2
    assert cold.rest_after == pytest.approx(
        estimate / (sum(weights.values()) + estimate)
    )


def test_top_k_keeps_exactly_k_and_drops_the_rest():
    r = reshape(LOGPROBS, top_k=2)
    assert after(r) == pytest.approx(
        {" Paris": 0.5 / 0.7, " the": 0.2 / 0.7, " London": 0}
    )
    assert r.rest_after == 0.0 and r.rest_exact and r.kept == 2


@pytest.mark.parametrize("disabled", [0, -1])
def test_top_k_zero_or_minus_one_disables_it(disabled):
    assert after(reshape(LOGPROBS, top_k=disabled)) == after(reshape(LOGPROBS))


def test_top_k_above_n_keeps_part_of_the_rest():
    r = reshape(LOGPROBS, top_k=4)  # one more token of (at most) 0.1 from the rest
    assert r.rest_after == pytest.approx(0.1 / 0.9)
    assert total(r) == pytest.approx(1.0)


def test_top_p_keeps_the_smallest_set_reaching_p():
    r = reshape(LOGPROBS, top_p=0.6)  # 0.5 < 0.6, so " the" is needed; 0.7 >= 0.6
    assert after(r) == pytest.approx(
        {" Paris": 0.5 / 0.7, " the": 0.2 / 0.7, " London": 0}
    )
    assert r.rest_exact and r.rest_after == 0.0
    assert reshape(LOGPROBS, top_p=0.5).kept == 1  # the first token alone reaches 0.5


def test_top_p_applies_after_top_k():
    # After top_k=2 the distribution is 5/7, 2/7: top_p=0.7 keeps only the first.
    assert reshape(LOGPROBS, top_k=2, top_p=0.7).kept == 1


def test_top_p_reaching_into_the_rest_keeps_part_of_it():
    r = reshape(LOGPROBS, top_p=0.9)
    assert r.kept == 3 and 0 < r.rest_after < 0.2 and not r.rest_exact
    assert total(r) == pytest.approx(1.0)


def test_no_candidates_is_an_error():
    with pytest.raises(ValueError, match="no candidates"):
        reshape({})


def test_vllm_step_is_read_by_decoded_token():
    step = {
        7042: SimpleNamespace(logprob=-0.3, decoded_token=" Paris"),
        9: SimpleNamespace(logprob=-2.0, decoded_token=None),
        10: SimpleNamespace(logprob=-2.5, decoded_token=" Paris"),
    }
    assert candidates_from_step(step) == {
        " Paris": -0.3,
        "<9>": -2.0,
        " Paris<10>": -2.5,
    }


def test_a_sampled_token_from_outside_the_top_n_is_left_out():
    """It would stand for the whole rest of the vocab and flatten every candidate."""
    from vllm.logprobs import Logprob

    top = {
        i: Logprob(logprob=math.log(p), rank=i, decoded_token=f"t{i}")
        for i, p in enumerate([0.4, 0.2, 0.1], start=1)
    }
    far = Logprob(logprob=-15.0, rank=30_000, decoded_token=" occ")
    unranked = Logprob(logprob=-15.0, rank=None, decoded_token=" occ")  # via a server
    for sampled in (far, unranked):
        step = {99: sampled, **top}
        assert list(candidates_from_step(step)) == ["t1", "t2", "t3"]
    assert list(candidates_from_step({**top, 4: Logprob(-2.5, 4, "t4")})) == [
        "t1",
        "t2",
        "t3",
        "t4",
    ]  # next in rank: a true top 4
    hot = reshape(candidates_from_step({99: far, **top}), temperature=1.8)
    assert hot.candidates[0].after > 0.1  # the rest bucket no longer drowns it


def test_min_p_drops_tokens_below_a_share_of_the_likeliest():
    # 0.5 is the likeliest: min_p=0.3 keeps >= 0.15, so " London" (0.1) goes, and the
    # rest (every token of it <= 0.1) goes too.
    r = reshape(LOGPROBS, min_p=0.3)
    assert after(r) == pytest.approx(
        {" Paris": 0.5 / 0.7, " the": 0.2 / 0.7, " London": 0}
    )
    assert r.rest_after == 0.0 and r.rest_exact
    assert after(reshape(LOGPROBS, min_p=0.0)) == after(reshape(LOGPROBS))


def test_min_p_applies_after_temperature_and_before_top_p():
    # At T=0.5 the weights are 0.25, 0.04, 0.01: min_p=0.1 keeps >= 0.025, two tokens.
    assert reshape(LOGPROBS, temperature=0.5, min_p=0.1).kept == 2
    assert reshape(LOGPROBS, temperature=1.0, min_p=0.1).kept == 3
    # Then top_p over what min_p left: 0.25 / 0.29 = 0.86 >= 0.8 keeps one.
    assert reshape(LOGPROBS, temperature=0.5, min_p=0.1, top_p=0.8).kept == 1


def test_entropy_in_bits_of_candidates_and_rest():
    r = reshape({"a": math.log(0.5), "b": math.log(0.5)})
    assert entropy(r) == pytest.approx(1.0) and entropy(r, after=False) == 1.0
    assert entropy(reshape(LOGPROBS, temperature=0)) == 0.0
    assert entropy(reshape(LOGPROBS, temperature=1.5)) > entropy(reshape(LOGPROBS))


def test_temperature_curve_is_the_reshape_at_each_temperature():
    curves = temperature_curve(LOGPROBS, (0.1, 1.0, 2.0), top=2)
    assert list(curves) == [" Paris", " the"]
    assert curves[" Paris"][1] == pytest.approx(0.5)
    assert curves[" Paris"][0] > 0.99 and curves[" Paris"][2] < 0.5
    assert curves[" Paris"][2] == reshape(LOGPROBS, temperature=2.0).candidates[0].after


def test_softmax_terms_show_the_formula_with_numbers():
    rows = softmax_terms(LOGPROBS, 0.5, top=2)
    token, z, weight, p = rows[0]
    assert (token, z) == (" Paris", math.log(0.5))
    assert weight == pytest.approx(0.25)  # exp(z / T) = 0.5 ** 2
    assert p == reshape(LOGPROBS, temperature=0.5).candidates[0].after
    assert softmax_terms(LOGPROBS, 0.0)[0][2:] == (0.0, 1.0)


def test_first_difference_finds_where_two_generations_part():
    assert first_difference((1, 2, 3), (1, 2, 4)) == 2
    assert first_difference((1, 2), (1, 2, 3)) is None
    assert first_difference((), (5,)) is None
