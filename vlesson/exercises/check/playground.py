"""Checks of notebook 02, the playground's questions (play-1 ... play-5): the learner
answers from what the panels showed, and each check compares the answer with that run.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from vlesson.exercises.grading import checkpoint

__all__ = [
    "near_greedy",
    "penalty_loop",
    "stop_string",
    "top_k_one",
    "top_p_kept",
]


def _parting(a: Any, b: Any) -> int | None:
    """The first token where two generations differ (None: the same tokens)."""
    pairs = zip(a.token_ids, b.token_ids, strict=False)
    step = next((i for i, (x, y) in enumerate(pairs) if x != y), None)
    if step is None and len(a.token_ids) != len(b.token_ids):
        return min(len(a.token_ids), len(b.token_ids))
    return step


def _yes_no(answer: Any, name: str) -> bool:
    assert isinstance(answer, bool), f"{name} is {answer!r}: answer True or False"
    return answer


@checkpoint("play-1")
def top_k_one(same: Any, greedy: Any, topk1: Any) -> str:
    """Check the answer "does top_k=1 at temperature 1 give the greedy text?"."""
    same = _yes_no(same, "your answer")
    step = _parting(greedy, topk1)
    if step is None:
        assert same, (
            "read the two texts of the run again: they are the same, token for token - "
            "what does temperature have left to choose from when top_k keeps one token?"
        )
        return (
            "top_k=1 leaves one candidate, so temperature has nothing to choose "
            "between: sampling becomes greedy (unless two tokens tie for first)"
        )
    tie = ""
    if step < min(len(greedy.logprobs), len(topk1.logprobs)):
        a, b = greedy.logprobs[step], topk1.logprobs[step]
        if abs(a - b) < 1e-6:
            tie = f" - both had the raw log-probability {a:.3f} there: a tie"
    assert not same, (
        f"the two texts part at token {step + 1}{tie}: compare them token by token"
    )
    return (
        f"they part at token {step + 1}{tie}: top_k keeps every token tied with the "
        "first on a CPU (a GPU's kernel keeps exactly one), so top_k=1 is greedy only "
        "without ties; temperature 0 is greedy by definition"
    )


@checkpoint("play-2")
def top_p_kept(kept: Any, panel: Any) -> str:
    """Check the number of candidates top_p=0.05 left at the panel's step."""
    real = panel.reshaped.kept
    assert isinstance(kept, int) and not isinstance(kept, bool), (
        f"your answer is {kept!r}: write the number of candidates the step view says "
        "are kept (a whole number)"
    )
    assert kept == real, (
        f"you wrote {kept}; read the line above the bars of the step view "
        "('N of 20 candidates kept'): top_p keeps the fewest top candidates whose "
        "probabilities add up to at least top_p"
    )
    alone = "the likeliest token alone" if real == 1 else f"the top {real}"
    return (
        f"{alone} already reach{'es' if real == 1 else ''} 0.05 of the probability, "
        "so top_p=0.05 leaves sampling no choice: it is greedy decoding in all but name"
    )


@checkpoint("play-3")
def near_greedy(same: Any, greedy: Any, near: Any) -> str:
    """Check the answer "does temperature 0.05 give the greedy text?"."""
    same = _yes_no(same, "your answer")
    step = _parting(greedy, near)
    if step is None:
        assert same, (
            "read the two texts again: temperature 0.05 gave the greedy text, token "
            "for token - at T=0.05 a p of 0.9 (at T=1) becomes all but 1"
        )
        return (
            "p_i ∝ exp(z_i/T): at T=0.05 the gaps between logits grow 20-fold, so a "
            "token with p=0.9 at T=1 gets all but 1 - the same text, yet only T=0 is "
            "greedy by definition (a near-tie can still go the other way)"
        )
    assert not same, (
        f"the texts part at token {step + 1}: compare them token by token (a near-tie "
        "there: at T=0.05 even a small gap is not a certainty)"
    )
    return (
        f"they part at token {step + 1}: where two candidates are close, even T=0.05 "
        "leaves the second one a chance - only T=0 is greedy"
    )


@checkpoint("play-4")
def stop_string(answer: Any, generation: Any, stop: str) -> str:
    """Check the answer {"in_text": bool, "finish_reason": str} about a stop string."""
    keys = {"in_text", "finish_reason"}
    assert isinstance(answer, Mapping) and keys <= set(answer), (
        f"your answer is {answer!r}: write a dict with the keys in_text (True or "
        "False) and finish_reason (a string)"
    )
    in_text = stop in generation.text
    assert answer["in_text"] is in_text, (
        f"in_text is {answer['in_text']!r}: look for {stop!r} in the generated text - "
        "vLLM leaves the stop string out unless include_stop_str_in_output=True"
    )
    assert answer["finish_reason"] == generation.finish_reason, (
        f"finish_reason is {answer['finish_reason']!r}: the run says "
        "otherwise - it is 'stop' for an end-of-sequence token or a stop string, "
        "'length' when max_tokens cut the text"
    )
    return (
        "the text ends before the stop string, which is left out, and finish_reason "
        "is 'stop': a client can tell a finished answer from one max_tokens cut off"
    )


@checkpoint("play-5")
def penalty_loop(changed: Any, plain: Any, penalised: Any) -> str:
    """Check the answer "does repetition_penalty 1.5 change the looping text?"."""
    changed = _yes_no(changed, "your answer")
    real = plain.text != penalised.text
    assert changed is real, (
        "read the two texts of the run again (the greedy one, then with the penalty): "
        + ("they differ" if real else "they are the same")
    )
    return (
        "the penalty makes every token already in the text (prompt included) less "
        "likely (a positive logit divided by 1.5, a negative one multiplied), so the "
        "loop's next token loses its lead - the raw bars do not show it"
        if real
        else "the loop held: its tokens lead by more than a penalty of 1.5 takes away"
    )
