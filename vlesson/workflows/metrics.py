"""Text quality metrics for ranking and plotting outputs; pure Python, no engine.

Coherence comes from the model itself: ``Generation.mean_logprob`` (mean per-token
log-probability of the generated text) and ``Generation.perplexity``.
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any

_WORD = re.compile(r"[^\W_]+(?:'[^\W_]+)?", re.UNICODE)


def words(text: str) -> list[str]:
    """Split text into lower-case words (letters and digits; apostrophes kept)."""
    return [w.lower() for w in _WORD.findall(text)]


def distinct_n(text: str, n: int) -> float:
    """Share of word n-grams that are unique (distinct-n): 1.0 = no n-gram repeats."""
    tokens = words(text)
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    return len(set(grams)) / len(grams) if grams else 0.0


def repetition(text: str, n: int = 3) -> float:
    """Share of word n-grams that repeat an earlier one: 0.0 = no loops."""
    tokens = words(text)
    grams = [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]
    if not grams:
        return 0.0
    counts = Counter(grams)
    return sum(c - 1 for c in counts.values()) / len(grams)


def non_word_share(text: str) -> float:
    """Share of whitespace-separated chunks that hold no letters (symbols, fragments)."""
    chunks = text.split()
    if not chunks:
        return 0.0
    return sum(1 for c in chunks if not any(ch.isalpha() for ch in c)) / len(chunks)


def text_metrics(text: str) -> dict[str, Any]:
    """Return every text metric of one output as a flat dict (one table row)."""
    return {
        "chars": len(text),
        "words": len(words(text)),
        "distinct_1": round(distinct_n(text, 1), 4),
        "distinct_2": round(distinct_n(text, 2), 4),
        "repetition": round(repetition(text), 4),
        "non_word_share": round(non_word_share(text), 4),
    }
