"""The real engine on the offline model, started once for all integration tests."""

from __future__ import annotations

from pathlib import Path

import pytest

HERE = Path(__file__).parent


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test here ``engine``: each starts or uses a real engine (slow)."""
    for item in items:
        if item.path.is_relative_to(HERE):
            item.add_marker(pytest.mark.engine)


@pytest.fixture(scope="session")
def llm():
    import vlesson as vl

    return vl.get_llm()
