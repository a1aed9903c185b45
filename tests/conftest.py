"""Shared fixtures: the lesson's prompts, and one warm engine per test session."""

from __future__ import annotations

import pytest

from vlesson import envvars

EXAMPLE_PROMPTS = [
    "Hello, my name is",
    "The president of the United States is",
    "The capital of France is",
    "The future of AI is",
]


@pytest.fixture(scope="session")
def example_prompts() -> list[str]:
    return list(EXAMPLE_PROMPTS)


@pytest.fixture
def scratch_progress(tmp_path, monkeypatch):
    """The learner's progress file in tmp_path."""
    monkeypatch.setenv(envvars.PROGRESS, str(tmp_path / "progress.json"))
    return tmp_path / "progress.json"


def pytest_terminal_summary(terminalreporter):
    """What `vlesson compile` and the engines did with compiled graphs on this machine
    (CI's log is the only record from its CPU)."""
    from vlesson import compiled

    lines = compiled.history().splitlines()[-12:]
    if lines:
        terminalreporter.section("compiled engines here (vlesson compile's history.log)")
        for line in lines:
            terminalreporter.write_line(line)
