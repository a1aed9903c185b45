"""Text metrics on hand-made texts whose answers are known."""

from __future__ import annotations

import pytest

from vlesson.workflows import metrics


def test_words_are_lowercased_and_keep_apostrophes():
    assert metrics.words("It's a Test, 42 times!") == [
        "it's",
        "a",
        "test",
        "42",
        "times",
    ]


def test_distinct_and_repetition_on_a_loop():
    loop = "the cat sat the cat sat the cat sat"
    assert metrics.distinct_n(loop, 1) == pytest.approx(3 / 9)
    assert metrics.repetition(loop) == pytest.approx(4 / 7)
    fresh = "every word here is different from the others"
    assert metrics.distinct_n(fresh, 2) == 1.0 and metrics.repetition(fresh) == 0.0


def test_empty_and_short_texts_do_not_divide_by_zero():
    assert metrics.distinct_n("", 2) == 0.0
    assert metrics.repetition("one two") == 0.0
    assert metrics.non_word_share("") == 0.0


def test_non_word_share_spots_symbol_salad():
    assert metrics.non_word_share("$$ ## hello 123 ;;") == pytest.approx(4 / 5)
    row = metrics.text_metrics("Hello there, hello there.")
    assert row["words"] == 4 and row["distinct_1"] == 0.5
