"""Notebook 04's reading of the scheduler's recording (paging): the source's answer, the
wrong readings each hint names, and the predictions compared. The recording is made by
hand (the real one: tests/integration/test_machinery.py and notebook 04)."""

from __future__ import annotations

import pytest

from tests.lesson_answers import learner, reference, says
from vlesson.exercises.check import scheduler as checks
from vlesson.workflows.machinery import Recording, Step

pytestmark = pytest.mark.usefixtures("scratch_progress")


def recording() -> Recording:
    """A (8 tokens) at 0; B at 1, its first 4 tokens A's (one shared block of 4); C at
    1; D at 3, while B and C decode; A finishes at 2, B, C and D at 4."""
    return Recording(
        names=["A", "B", "C", "D"],
        prompt_tokens={"A": 8, "B": 7, "C": 3, "D": 2},
        arrivals={"A": 0, "B": 1, "C": 1, "D": 3},
        block_size=4,
        chunked_prefill=False,
        token_budget=8192,
        cached_tokens={"A": 0, "B": 4, "C": 0, "D": 0},
        steps=[
            Step({"A": 8}, {"A": [1, 2]}, []),
            Step({"A": 1, "B": 3, "C": 3}, {"A": [1, 2, 3], "B": [1, 4], "C": [5]}, []),
            Step({"A": 1, "B": 1, "C": 1}, {"A": [1, 2, 3], "B": [1, 4], "C": [5]}, ["A"]),
            Step({"B": 1, "C": 1, "D": 2}, {"B": [1, 4], "C": [5], "D": [2]}, []),
            Step({"B": 1, "C": 1, "D": 1}, {}, ["B", "C", "D"]),
        ],
    )  # fmt: skip


READING = {"b_computed": 3, "b_blocks_shared_with_a": 1, "d_first_step": 3}


def reads(**change):
    """A learner's function that returns READING with ``change``."""
    return lambda recording: {**READING, **change}


def test_the_sources_reading_is_right():
    answer = reference("04_", "paging")["read_recording"]
    says(checks.paging(answer, recording()), "right", "prefix cache")


@pytest.mark.parametrize(
    ("change", "hint"),
    [
        ({"b_computed": 7}, "found already done"),
        ({"b_blocks_shared_with_a": 2}, "count those whose shared_with names A"),
        ({"d_first_step": 5}, "read first_scheduled in D's row"),
        ({"d_first_step": True}, "write a whole number"),
    ],
)
def test_a_wrong_reading_names_where_to_look(change, hint):
    says(checks.paging(reads(**change), recording()), "wrong", hint)


def test_readings_and_guesses_must_have_their_keys():
    partial = checks.paging(lambda r: {"b_computed": 3}, recording())
    says(partial, "wrong", "return a dict with the keys b_computed")
    says(checks.paging(READING, recording()), "wrong", "pass your function itself")
    says(checks.paging(reads(), recording(), guess={"b": 1}), "wrong", "my_guess_paging")
    says(checks.paging(..., recording()), "not attempted")
    says(checks.paging(reads(), recording(), guess=...), "not attempted")


@pytest.mark.parametrize(
    ("change", "hint"),
    [
        ({"b_computes": "most"}, "write a number of tokens"),
        ({"b_computes": True}, "write a number of tokens"),
        ({"d_waits": "yes"}, "your guess d_waits is 'yes': write True or False"),
        ({"b_next_to_a": 1}, "your guess b_next_to_a is 1: write True or False"),
    ],
)
def test_a_guess_of_the_wrong_type_is_wrong(change, hint):
    guess = {"b_computes": 4, "b_next_to_a": False, "d_waits": False, **change}
    says(checks.paging(reads(), recording(), guess=guess), "wrong", hint)


def test_the_stub_is_not_attempted():
    stub = learner("def read_recording(recording):\n    raise NotImplementedError\n")
    says(checks.paging(stub["read_recording"], recording()), "not attempted")


def test_the_guesses_are_compared_with_the_run():
    guess = {"b_computes": 7, "b_next_to_a": True, "d_waits": True}
    verdict = checks.paging(reads(), recording(), guess=guess)
    says(verdict, "right", "you guessed B computes 7 tokens: it computed 3")
    assert "you guessed D waits: not so (D ran from step 3" in verdict.message
    close = {"b_computes": 4, "b_next_to_a": False, "d_waits": False}
    says(checks.paging(reads(), recording(), guess=close), "right", "tokens: right")


def test_a_class_server_is_not_attempted_with_the_reason():
    says(checks.paging(reads(), None), "not attempted", "needs a local engine")
