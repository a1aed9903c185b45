"""The real engine on the offline model, started once for all integration tests."""

from __future__ import annotations

import pytest


@pytest.fixture(scope="session")
def llm():
    import vlesson as vl

    return vl.get_llm()
