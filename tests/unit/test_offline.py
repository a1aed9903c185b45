"""When `make test` cut the network (scripts/offline.sh), it really is cut, and loopback works.

The rest of the suite then proves the claim: no notebook, test or API page needs the network
once `make setup` has run.
"""

from __future__ import annotations

import os
import socket
import subprocess
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]


def _reaches(host: str, port: int) -> bool:
    try:
        socket.create_connection((host, port), timeout=3).close()
    except OSError:
        return False
    return True


@pytest.mark.skipif(
    os.environ.get("VLESSON_NETWORK_CUT") != "1",
    reason="not run by scripts/offline.sh (make test)",
)
def test_the_network_is_cut_but_loopback_works():
    assert not _reaches("pypi.org", 443)
    assert not _reaches("1.1.1.1", 443)
    server = socket.create_server(("127.0.0.1", 0))
    with server:
        assert _reaches(*server.getsockname())


def test_offline_script_cuts_the_network_or_says_it_cannot():
    code = "import os; print(os.environ.get('VLESSON_NETWORK_CUT'))"
    result = subprocess.run(
        ["bash", str(ROOT / "scripts" / "offline.sh"), "python3", "-c", code],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    if result.stdout.strip() != "1":
        assert "NOTE: cannot cut the network here" in result.stderr
