"""Bounded retries: transient errors are retried with back-off, others never."""

from __future__ import annotations

import pytest

from vlesson.retry import retry


def test_transient_errors_are_retried_with_growing_delays():
    waits, calls = [], []

    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise ConnectionError("reset by peer")
        return "ok"

    assert retry(flaky, what="test", attempts=3, backoff=0.5, sleep=waits.append) == "ok"
    assert 0.375 <= waits[0] <= 0.5 and 0.75 <= waits[1] <= 1.0


def test_delays_have_jitter_so_many_clients_do_not_retry_together():
    runs = []
    for _ in range(5):
        waits = []
        with pytest.raises(TimeoutError):
            retry(lambda: (_ for _ in ()).throw(TimeoutError()), what="t", attempts=2,
                  sleep=waits.append)
        runs.append(waits[0])
    assert len(set(runs)) > 1, f"every client waited the same {runs}"


def test_gives_up_after_the_last_attempt():
    waits = []
    with pytest.raises(TimeoutError):
        retry(lambda: (_ for _ in ()).throw(TimeoutError()), what="t", attempts=2,
              sleep=waits.append)
    assert len(waits) == 1


def test_validation_errors_are_never_retried():
    calls = []

    def bad():
        calls.append(1)
        raise ValueError("top_p must be in (0, 1]")

    with pytest.raises(ValueError):
        retry(bad, what="t", sleep=lambda s: None)
    assert len(calls) == 1
