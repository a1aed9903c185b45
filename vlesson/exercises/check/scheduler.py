"""Checks of notebook 04's look inside vLLM: what the learner reads off the scheduler's
recording (``vl.machinery.record``), against the same recording, and the predictions
made before it ran."""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from vlesson.exercises.grading import NotAttempted, checkpoint
from vlesson.remote import local_only

__all__ = ["paging"]

READING_KEYS = ("b_computed", "b_blocks_shared_with_a", "d_first_step")
"""What the learner reads off the recording of A, B (A's prefix), C and D."""
GUESS_KEYS = ("b_computes", "b_next_to_a", "d_waits")
"""The predictions made before the recording ran."""


def _count(value: Any, name: str) -> int:
    assert isinstance(value, int) and not isinstance(value, bool), (
        f"{name} is {value!r}: write a whole number read off the tables"
    )
    return value


@checkpoint("paging")
def paging(
    fn: Callable[[Any], Mapping[str, Any]], recording: Any, guess: Any = None
) -> str:
    """Check what the learner's function reads off the recording (None on a class
    server) and compare the predictions ``guess`` made before it ran."""
    assert callable(fn), "pass your function itself: paging(read_recording, ...)"
    if recording is None:
        raise NotAttempted(local_only("Recording the scheduler"))
    reading = fn(recording)
    assert isinstance(reading, Mapping) and set(READING_KEYS) <= set(reading), (
        f"read_recording returns {reading!r}: return a dict with the keys "
        f"{', '.join(READING_KEYS)}"
    )
    assert guess is None or (
        isinstance(guess, Mapping) and set(GUESS_KEYS) <= set(guess)
    ), f"my_guess_paging is a dict with the keys {', '.join(GUESS_KEYS)}"
    if guess is not None:
        b = guess["b_computes"]
        assert isinstance(b, int | float) and not isinstance(b, bool), (
            f"your guess b_computes is {b!r}: write a number of tokens"
        )
        for key in ("b_next_to_a", "d_waits"):
            assert isinstance(guess[key], bool), (
                f"your guess {key} is {guess[key]!r}: write True or False"
            )
    when = recording.timeline().set_index("request")
    prompt, cached = (int(when.loc["B", c]) for c in ("prompt_tokens", "cached_tokens"))
    computed = _count(reading["b_computed"], "b_computed")
    assert computed == prompt - cached, (
        f"b_computed is {computed}: B's prompt is {prompt} tokens, but not all were "
        "computed at B's first step - which column of the timeline says how many were "
        "found already done?"
    )
    step = int(when.loc["B", "first_scheduled"])
    held = recording.block_table(step)
    of_b = held[held.request == "B"]
    shared = int(of_b.shared_with.str.split(", ").map(lambda s: "A" in s).sum())
    said = _count(reading["b_blocks_shared_with_a"], "b_blocks_shared_with_a")
    assert said == shared, (
        f"b_blocks_shared_with_a is {said}: in the block table at step {step} (B's "
        f"first), B holds {len(of_b)} blocks - count those whose shared_with names A"
    )
    first = int(when.loc["D", "first_scheduled"])
    assert _count(reading["d_first_step"], "d_first_step") == first, (
        f"d_first_step is {reading['d_first_step']}: D arrives at step "
        f"{int(when.loc['D', 'arrives'])} - read first_scheduled in D's row"
    )
    finished = [int(when.loc[n, "finishes"]) for n in ("A", "B", "C")]
    return _compare_guesses(guess, computed, prompt, first, max(finished)) + (
        f"B computed {computed} of its {prompt} prompt tokens: the other {cached} were "
        f"A's, in {shared} block{'s' * (shared != 1)} that B's block table points at "
        "without copying them "
        f"(the prefix cache); and D ran from step {first}, beside the others, not after "
        "them (continuous batching)"
    )


def _compare_guesses(
    guess: Mapping[str, Any] | None, computed: int, prompt: int, d_first: int, last: int
) -> str:
    """Say how each prediction made before the run compares with the recording."""
    if guess is None:
        return ""
    b, waits = guess["b_computes"], guess["d_waits"]
    near = abs(b - computed) <= max(2, 0.15 * computed)
    said = [
        f"you guessed B computes {b:g} tokens: "
        + ("right" if near else f"it computed {computed}")
        + ("" if near or b < prompt else ", not its whole prompt"),
        (
            f"you guessed B's blocks {'sit' if guess['b_next_to_a'] else 'do not sit'} "
            "next to A's: no block table needs that - B's first blocks *are* A's, and "
            "its own block is wherever the free queue had one"
        ),
        f"you guessed D {'waits' if waits else 'does not wait'}: "
        + ("right" if waits == (d_first > last) else "not so")
        + f" (D ran from step {d_first}, the last of A, B, C finished at {last})",
    ]
    return "; ".join(said) + ". "
