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


@pytest.fixture(scope="session")
def server_log(tmp_path_factory):
    return tmp_path_factory.mktemp("server") / "server.log"


@pytest.fixture(scope="session")
def server(server_log):
    """The class server (class_server.py), one for test_classroom.py and
    test_classroom_key.py: each start is 60-100 s on a 2-core machine."""
    from class_server import running

    with running(server_log) as address:
        yield address
