"""The next-token distribution, and how temperature, min-p, top-k and top-p reshape it.

vLLM returns *raw* log-probabilities (before temperature and filtering) of the top
candidates; the reshaping is pure arithmetic done here, so a slider move costs no
generation. Only the top N candidates are known: the rest of the vocabulary is one
bucket of known total mass (``1 - sum``) but unknown shape, see ``reshape``.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

from vlesson.generate import candidates_from_step
from vlesson.sampling import make_sampling_params

if TYPE_CHECKING:
    from vllm import LLM

TOP_N = 20
"""How many candidates to ask vLLM for (its ``logprobs`` limit)."""


@dataclass(frozen=True)
class Candidate:
    """One candidate token with its probability before and after reshaping."""

    token: str
    before: float
    """Raw probability (temperature 1, no filtering)."""
    after: float
    """Probability after temperature, min-p, top-k and top-p (0.0 when filtered out)."""


@dataclass(frozen=True)
class Reshaped:
    """The top candidates before and after reshaping, plus the rest of the vocab."""

    candidates: tuple[Candidate, ...]
    rest_before: float
    """Raw mass of every token outside the top N (exact)."""
    rest_after: float
    """Mass of those tokens after reshaping (an estimate unless ``rest_exact``)."""
    rest_exact: bool
    """True when ``rest_after`` is exact: the rest is filtered out, or T is 1 and
    no filter cuts into it."""

    @property
    def kept(self) -> int:
        """Number of top candidates that can still be sampled."""
        return sum(1 for c in self.candidates if c.after > 0)


def reshape(
    logprobs: Mapping[str, float],
    *,
    temperature: float = 1.0,
    top_k: int = 0,
    top_p: float = 1.0,
    min_p: float = 0.0,
) -> Reshaped:
    """Apply temperature, min-p, top-k, then top-p (vLLM's order) to raw logprobs.

    vLLM's sampler (``vllm/v1/sample/sampler.py``) first applies the penalties
    (repetition, frequency, presence) to the logits, then temperature, then min-p, then
    top-k and top-p, and samples. The log-probs it returns are raw (before all of
    them), so the penalties are not part of this view.

    The tokens outside the top N are modelled as tokens of the smallest known
    probability, each: their raw mass is exact, their reshaped mass is an upper bound
    for T < 1 and a lower bound for T > 1 (``rest_exact`` says when it is exact).

    Args:
        logprobs: token -> raw log-probability of the top candidates.
        top_k: keep the k likeliest tokens; 0 or -1 disables.
    """
    if not logprobs:
        raise ValueError("no candidates: pass at least one token -> logprob")
    ranked = sorted(logprobs.items(), key=lambda kv: kv[1], reverse=True)
    before = [math.exp(lp) for _, lp in ranked]
    rest = max(0.0, 1.0 - sum(before))
    if temperature == 0:  # greedy: the likeliest token only
        after = [1.0] + [0.0] * (len(ranked) - 1)
        return _result(ranked, before, after, rest, 0.0, True)
    weights, rest_weight = _tempered(ranked, before, rest, temperature)
    tempered_rest = rest_weight
    weights, rest_weight, cut_min = _min_p(weights, rest_weight, min_p)
    weights, rest_weight, cut = _top_k(weights, rest_weight, top_k)
    weights, rest_weight, cut_p = _top_p(weights, rest_weight, top_p)
    total = sum(weights) + rest_weight
    after = [w / total for w in weights]
    # Exact when the rest is gone, or untouched at T=1; a partly kept rest is a guess.
    whole = temperature == 1.0 and rest_weight == tempered_rest
    exact = rest == 0 or cut or cut_p or cut_min or whole
    return _result(ranked, before, after, rest, rest_weight / total, exact)


def _tempered(
    ranked: list[tuple[str, float]], before: list[float], rest: float, t: float
) -> tuple[list[float], float]:
    # Weights proportional to p ** (1/T); the rest bucket as rest/p_min tokens of p_min.
    weights = [math.exp(lp / t) for _, lp in ranked]
    p_min = before[-1] if before else 1.0
    rest_weight = rest * p_min ** (1.0 / t - 1.0) if rest > 0 else 0.0
    return weights, rest_weight


def _min_p(
    weights: list[float], rest_weight: float, min_p: float
) -> tuple[list[float], float, bool]:
    # Relative to the likeliest token after temperature, as vLLM's MinPLogitsProcessor.
    if min_p <= 0 or not weights:
        return weights, rest_weight, False
    threshold = min_p * max(weights)
    kept = [w if w >= threshold else 0.0 for w in weights]
    if weights[-1] < threshold:  # every rest token weighs at most weights[-1]
        return kept, 0.0, True
    return kept, rest_weight, False


def _top_k(
    weights: list[float], rest_weight: float, k: int
) -> tuple[list[float], float, bool]:
    if k <= 0:  # disabled (vLLM accepts 0 and -1)
        return weights, rest_weight, False
    if k <= len(weights):
        return [w if i < k else 0.0 for i, w in enumerate(weights)], 0.0, True
    # Keep k - N more tokens of the rest bucket, each weighing as the smallest known.
    return weights, min(rest_weight, (k - len(weights)) * weights[-1]), False


def _top_p(
    weights: list[float], rest_weight: float, top_p: float
) -> tuple[list[float], float, bool]:
    if top_p >= 1.0:
        return weights, rest_weight, False
    total = sum(weights) + rest_weight
    kept, cumulative = [], 0.0
    for w in weights:  # weights are sorted, so this keeps the likeliest first
        kept.append(w if cumulative < top_p * total else 0.0)
        cumulative += w
    if cumulative >= top_p * total:
        return kept, 0.0, True
    return kept, min(rest_weight, top_p * total - cumulative), False


def _result(ranked, before, after, rest, rest_after, exact) -> Reshaped:
    candidates = tuple(
        Candidate(token, b, a) for (token, _), b, a in zip(ranked, before, after)
    )
    return Reshaped(candidates, rest, rest_after, exact)


def next_token_logprobs(llm: LLM, prompt: str, top_n: int = TOP_N) -> dict[str, float]:
    """Return the raw log-probabilities of the top N first tokens after ``prompt``.

    One request of one token; vLLM reports logprobs before temperature and filtering
    (its default ``logprobs_mode="raw_logprobs"``), so sampling settings do not matter.
    """
    params = make_sampling_params(llm, max_tokens=1, temperature=0, logprobs=top_n)
    output = llm.generate([prompt], [params], use_tqdm=False)[0]
    return candidates_from_step(output.outputs[0].logprobs[0])


TEMPERATURES = tuple(round(0.1 * i, 1) for i in range(1, 21))
"""The temperatures of ``temperature_curve``: 0.1 to 2.0 in steps of 0.1."""


def entropy(reshaped: Reshaped, *, after: bool = True) -> float:
    """Return the entropy in bits of the shown distribution.

    The top candidates count one by one and the rest of the vocabulary as one outcome,
    so this is a lower bound of the entropy over the whole vocabulary.
    """
    probs = [c.after if after else c.before for c in reshaped.candidates]
    probs.append(reshaped.rest_after if after else reshaped.rest_before)
    return max(0.0, -sum(p * math.log2(p) for p in probs if p > 0))


def temperature_curve(
    logprobs: Mapping[str, float],
    temperatures: tuple[float, ...] = TEMPERATURES,
    top: int = 5,
) -> dict[str, list[float]]:
    """Return each of the ``top`` likeliest candidates' probability at every T.

    Pure arithmetic on the log-probs already fetched: p_i = exp(z_i / T) / sum_j
    exp(z_j / T), with no filter and the rest of the vocabulary as in ``reshape``.
    """
    curves: dict[str, list[float]] = {}
    for t in temperatures:
        for c in reshape(logprobs, temperature=t).candidates[:top]:
            curves.setdefault(c.token, []).append(c.after)
    return curves


def softmax_terms(
    logprobs: Mapping[str, float], temperature: float, top: int = 3
) -> list[tuple[str, float, float, float]]:
    """Return (token, z, exp(z / T), p) for the ``top`` likeliest candidates.

    z is the raw log-probability; it differs from the logit by one constant per step,
    which cancels in p_i = exp(z_i / T) / sum_j exp(z_j / T). At T = 0 the likeliest
    token gets p = 1 (greedy) and exp(z / T) is left out (shown as 0).
    """
    r = reshape(logprobs, temperature=temperature)
    rows = []
    for c in r.candidates[:top]:
        z = logprobs[c.token]
        weight = math.exp(z / temperature) if temperature > 0 else 0.0
        rows.append((c.token, z, weight, c.after))
    return rows


def first_difference(a: Sequence[int], b: Sequence[int]) -> int | None:
    """Return the first step where two token sequences differ, or None if neither
    differs from the other within the shorter one."""
    return next((i for i, (x, y) in enumerate(zip(a, b)) if x != y), None)
