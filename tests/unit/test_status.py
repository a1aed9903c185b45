"""The status line of a wait that reports no steps (``vlesson/status.py``)."""

from __future__ import annotations

import io
import threading

import pytest

from vlesson import status


def test_the_line_says_what_runs_then_that_it_is_done():
    shown = io.StringIO()
    with status.elapsed("starting vLLM engine (m)", "vLLM engine (m) ready in",
                        file=shown):
        pass
    text = shown.getvalue()
    assert "starting vLLM engine (m) 00:00" in text
    assert text.rstrip().rsplit("\r", 1)[-1] == "vLLM engine (m) ready in 00:00"


def test_a_failure_says_so_and_is_raised():
    shown = io.StringIO()
    with (pytest.raises(RuntimeError, match="no memory"),
          status.elapsed("starting", "ready in", file=shown)):
        raise RuntimeError("no memory")
    assert shown.getvalue().rstrip().endswith("starting failed after 00:00")


def test_no_thread_is_left_behind():
    before = threading.active_count()
    with status.elapsed("waiting", "done in", file=io.StringIO()):
        assert threading.active_count() == before + 1  # the thread that redraws
    assert threading.active_count() == before


def test_a_delayed_line_shows_nothing_for_quick_work():
    shown = io.StringIO()
    with status.elapsed("generating 4 outputs", "4 outputs generated in", delay=10,
                        interval=0.01, file=shown):
        pass
    assert shown.getvalue() == ""
