"""Shared fixtures: the lesson's prompts, and one warm engine per test session."""

from __future__ import annotations

import pytest

EXAMPLE_PROMPTS = [
    "Hello, my name is",
    "The president of the United States is",
    "The capital of France is",
    "The future of AI is",
]


@pytest.fixture(scope="session")
def example_prompts() -> list[str]:
    return list(EXAMPLE_PROMPTS)
