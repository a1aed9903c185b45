"""A class server address holding ``user:password@`` (``remote.py``): the password
reaches the server, never a cache key, a repr or an error message."""

from __future__ import annotations

import base64
import http.server
import json
import socket
import threading
from typing import ClassVar

import pytest

import vlesson as vl
from vlesson import remote

PASSWORD = "pw-Secret-77"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        (f"http://alice:{PASSWORD}@host:8000/v1", "http://host:8000/v1"),
        (f"https://alice:{PASSWORD}@host/v1", "https://host/v1"),
        (f"alice:{PASSWORD}@host:8000/v1", "host:8000/v1"),
        ("http://host:8000/v1?q=a@b", "http://host:8000/v1?q=a@b"),
        ("http://[::1]:8000/v1", "http://[::1]:8000/v1"),
    ],
)
def test_the_user_info_is_taken_out_of_an_address(url, shown):
    assert remote.without_userinfo(url) == shown


class _Server(http.server.BaseHTTPRequestHandler):
    seen: ClassVar[list[str]] = []

    def do_GET(self):
        _Server.seen.append(self.headers.get("Authorization", ""))
        if self.path.endswith("/models"):
            body = {"object": "list", "data": [
                {"id": "m", "object": "model", "created": 0, "owned_by": "vllm"}]}
        else:
            body = {"version": "0.0"}
        data = json.dumps(body).encode()
        self.send_response(200)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def log_message(self, *args):
        pass


def test_the_password_reaches_the_server_but_no_cache_key_or_repr():
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), _Server)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    try:
        url = f"http://alice:{PASSWORD}@127.0.0.1:{server.server_port}/v1"
        llm = remote.RemoteLLM(url, timeout=10)
    finally:
        server.shutdown()
    assert PASSWORD not in json.dumps(llm.facts.fingerprint)
    assert PASSWORD not in repr(llm) and PASSWORD not in llm.server
    assert llm.facts.fingerprint["server"] == f"http://127.0.0.1:{server.server_port}/v1"
    basic = base64.b64encode(f"alice:{PASSWORD}".encode()).decode()
    assert _Server.seen and set(_Server.seen) == {f"Basic {basic}"}  # still sent


def test_an_error_names_the_server_without_the_password():
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        port = listener.getsockname()[1]
    with pytest.raises(vl.RemoteError) as error:
        remote.RemoteLLM(f"http://alice:{PASSWORD}@127.0.0.1:{port}/v1",
                         attempts=1, timeout=3)
    assert f"127.0.0.1:{port}" in str(error.value)
    assert PASSWORD not in str(error.value)
    with pytest.raises(vl.RemoteError) as error:
        remote.RemoteLLM(f"alice:{PASSWORD}@host:8000/v1")
    assert PASSWORD not in str(error.value)
