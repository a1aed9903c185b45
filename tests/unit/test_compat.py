"""compat.stdout_with_fileno: vLLM 0.24 needs sys.stdout.fileno() while a GPU engine starts."""

from __future__ import annotations

import contextlib
import io
import os
import sys

from vlesson.compat import stdout_with_fileno


def _suppress_stdout_of_vllm_0_24() -> None:
    """What vLLM 0.24's suppress_stdout() does first (vllm/utils/system_utils.py)."""
    os.close(os.dup(sys.stdout.fileno()))


def test_a_stdout_without_fileno_gets_one_while_the_engine_starts():
    captured = io.StringIO()
    with contextlib.redirect_stdout(captured):
        with stdout_with_fileno():
            _suppress_stdout_of_vllm_0_24()
            assert sys.stdout is sys.__stdout__
        assert sys.stdout is captured  # restored afterwards


def test_without_the_shim_that_stdout_breaks_vllm_0_24():
    with contextlib.redirect_stdout(io.StringIO()):
        try:
            _suppress_stdout_of_vllm_0_24()
        except io.UnsupportedOperation:
            return
    raise AssertionError("StringIO.fileno() should raise; the shim would be pointless")


def test_a_real_stdout_is_left_alone(tmp_path):
    with (
        open(tmp_path / "out.txt", "w") as real,
        contextlib.redirect_stdout(real),
        stdout_with_fileno(),
    ):
        assert sys.stdout is real
