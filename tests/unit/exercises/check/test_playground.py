"""Notebook 02's questions (play-1 ... play-5): the right answers from a run, and the
wrong ones each check catches. Runs are real ``Generation`` objects and a real
``reshape`` of a step (no engine)."""

from __future__ import annotations

import math
from types import SimpleNamespace

import pytest

from tests.lesson_answers import reference, says
from vlesson.exercises.check import playground as checks
from vlesson.generate import Generation
from vlesson.playground.distribution import reshape

pytestmark = pytest.mark.usefixtures("scratch_progress")


def gen(text, token_ids, logprobs=None, finish_reason="length"):
    ids = tuple(token_ids)
    return Generation(
        "The capital of France is", text, ids, finish_reason, 5, {}, 0.1,
        logprobs=tuple(logprobs or [-0.5] * len(ids)),
    )  # fmt: skip


GREEDY = gen(" Paris. It is", [1, 2, 3, 4])
SAME = gen(" Paris. It is", [1, 2, 3, 4])
TIED = gen(" Paris, it is", [1, 2, 9, 4])  # tied with the greedy token at step 3
OTHER = gen(" Paris. This", [1, 2, 3, 7], logprobs=[-0.5, -0.5, -0.5, -2.0])


def test_top_k_one():
    says(checks.top_k_one(True, GREEDY, SAME), "right", "sampling becomes greedy")
    says(checks.top_k_one(False, GREEDY, SAME), "wrong", "they are the same")
    says(checks.top_k_one(False, GREEDY, TIED), "right", "part at token 3")
    says(checks.top_k_one(True, GREEDY, TIED), "wrong", "a tie")
    says(checks.top_k_one("yes", GREEDY, SAME), "wrong", "answer True or False")
    says(checks.top_k_one(..., GREEDY, SAME), "not attempted")


def test_near_greedy():
    says(checks.near_greedy(True, GREEDY, SAME), "right", "exp(z_i/T)")
    says(checks.near_greedy(False, GREEDY, SAME), "wrong", "gave the greedy text")
    says(checks.near_greedy(True, GREEDY, OTHER), "wrong", "part at token 4")
    says(checks.near_greedy(False, GREEDY, OTHER), "right", "only T=0 is greedy")
    says(checks.near_greedy(1, GREEDY, SAME), "wrong", "answer True or False")


def panel(**shaping):
    step = {" Paris": math.log(0.9), " the": math.log(0.06), " a": math.log(0.04)}
    return SimpleNamespace(reshaped=reshape(step, **shaping))


def test_top_p_kept():
    says(checks.top_p_kept(1, panel(top_p=0.05)), "right", "likeliest token alone")
    says(checks.top_p_kept(20, panel(top_p=0.05)), "wrong", "candidates kept")
    says(checks.top_p_kept(2, panel(top_p=0.05)), "wrong", "add up to at least")
    says(checks.top_p_kept(2, panel(top_p=0.95)), "right", "the top 2")
    says(checks.top_p_kept("1", panel(top_p=0.05)), "wrong", "a whole number")
    says(checks.top_p_kept(True, panel(top_p=0.05)), "wrong", "a whole number")


STOPPED = gen(" Paris", [1], finish_reason="stop")


def test_stop_string():
    right = {"in_text": False, "finish_reason": "stop"}
    says(checks.stop_string(right, STOPPED, "."), "right", "left out")
    kept = {"in_text": True, "finish_reason": "stop"}
    says(checks.stop_string(kept, STOPPED, "."), "wrong", "include_stop_str_in_output")
    length = {"in_text": False, "finish_reason": "length"}
    says(checks.stop_string(length, STOPPED, "."), "wrong", "'length' when max_tokens")
    says(checks.stop_string(("stop", False), STOPPED, "."), "wrong", "a dict")
    says(checks.stop_string(..., STOPPED, "."), "not attempted")


LOOP = gen(" one two one two", [5, 6, 5, 6])
BROKEN = gen(" three four five", [7, 8, 9])


def test_penalty_loop():
    says(checks.penalty_loop(True, LOOP, BROKEN), "right", "loses its lead")
    says(checks.penalty_loop(False, LOOP, BROKEN), "wrong", "they differ")
    says(checks.penalty_loop(False, LOOP, LOOP), "right", "the loop held")
    says(checks.penalty_loop(True, LOOP, LOOP), "wrong", "they are the same")


def test_the_reference_answers_are_right():
    check = SimpleNamespace(generation=STOPPED)
    ns = reference(
        "02", "play-4", check=check, word=".", greedy=GREEDY, topk1=SAME, near=OTHER
    )
    says(checks.stop_string(ns["stop_answer"], STOPPED, "."), "right")
    ns = reference("02", "play-1", greedy=GREEDY, topk1=TIED)
    says(checks.top_k_one(ns["topk1_same"], GREEDY, TIED), "right")
    ns = reference("02", "play-3", greedy=GREEDY, near=OTHER)
    says(checks.near_greedy(ns["near_same"], GREEDY, OTHER), "right")
    ns = reference("02", "play-2")
    says(checks.top_p_kept(ns["kept_top_p"], panel(top_p=0.05)), "right")
    loop = SimpleNamespace(generation=BROKEN)
    ns = reference("02", "play-5", loop=loop, plain=LOOP)
    says(checks.penalty_loop(ns["penalty_changed"], LOOP, BROKEN), "right")
