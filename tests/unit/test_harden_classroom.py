"""Issue 18, classroom server: the key travels in the environment, a server beyond
loopback never runs keyless by accident, retries are the openai client's (back-off with
jitter, Retry-After) and bounded in total time, and a server's cache key names it."""

from __future__ import annotations

import http.server
import re
import socket
import threading
import time

import pytest

import vlesson as vl
from vlesson import envvars, facts, remote
from vlesson.cli import main as cli_main
from vlesson.facts import EngineFacts
from vlesson.serving import classroom

SECRET = "s3cret-key-of-the-class"


def test_the_key_goes_to_vllm_in_its_environment_never_on_the_command_line():
    command = classroom.server_command(port=8123)
    assert "--api-key" not in command
    env = classroom.server_environment(api_key=SECRET)
    assert env["VLLM_API_KEY"] == SECRET
    assert "VLLM_API_KEY" not in classroom.server_environment(api_key=None)


def test_the_cli_prints_no_key_in_the_command(monkeypatch, capsys):
    monkeypatch.setenv(envvars.SERVER_API_KEY, SECRET)
    assert cli_main(["classroom-server", "--host", "0.0.0.0", "--dry-run"]) == 0
    out = capsys.readouterr().out
    command = out.splitlines()[0]
    assert "api_server" in command and SECRET not in command
    assert "--api-key" not in command


@pytest.mark.parametrize(
    "command",
    [
        ["classroom-server", "--dry-run"],
        ["generate", "--server", "http://127.0.0.1:9/v1"],
        ["batch", "--prompts-file", "p.txt", "--out", "out"],
        ["sweep"],
        ["smart", "--topic", "tea"],
        ["serve"],
    ],
)
def test_a_key_on_any_command_line_is_refused_before_anything_starts(command, capsys):
    """The learner's commands and the servers alike: a command line is in the process
    list for every user of the machine; the key goes in the environment."""
    for key in (["--api-key", SECRET], [f"--api-key={SECRET}"]):
        assert cli_main([*command, *key]) == 2
        err = capsys.readouterr().err
        assert f"export {envvars.SERVER_API_KEY}=KEY" in err and "process list" in err
        assert SECRET not in err


def test_beyond_loopback_without_a_key_one_is_made_and_the_exports_printed(
    monkeypatch, capsys
):
    monkeypatch.delenv(envvars.SERVER_API_KEY, raising=False)
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    argv = ["classroom-server", "--host", "0.0.0.0", "--port", "9001", "--dry-run"]
    assert cli_main(argv) == 0
    out = capsys.readouterr().out
    assert "export VLESSON_SERVER=http://THIS-HOST:9001/v1" in out
    found = re.search(r"^export VLESSON_SERVER_API_KEY=(\S+)$", out, re.MULTILINE)
    assert found and len(found.group(1)) >= 20
    assert found.group(1) not in out.splitlines()[0]  # not in the command
    assert cli_main(argv) == 0  # a new key each start
    assert found.group(1) not in capsys.readouterr().out


def test_keyless_beyond_loopback_only_when_asked_and_loopback_needs_no_key(
    monkeypatch, capsys
):
    monkeypatch.delenv(envvars.SERVER_API_KEY, raising=False)
    monkeypatch.delenv("VLLM_API_KEY", raising=False)
    open_argv = ["classroom-server", "--host", "0.0.0.0", "--no-api-key", "--dry-run"]
    assert cli_main(open_argv) == 0
    out = capsys.readouterr().out
    assert "VLESSON_SERVER_API_KEY=" not in out and "WITHOUT a key" in out
    for host in ("127.0.0.1", "localhost", "::1"):
        assert cli_main(["classroom-server", "--host", host, "--dry-run"]) == 0
        assert "VLESSON_SERVER_API_KEY=" not in capsys.readouterr().out


def _serve(handler_cls):
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler_cls)
    threading.Thread(target=server.serve_forever, daemon=True).start()
    return server


def test_a_busy_server_is_retried_by_the_openai_client_honouring_retry_after():
    seen = []

    class Busy(http.server.BaseHTTPRequestHandler):
        def do_GET(self):
            seen.append(time.monotonic())
            self.send_response(503)
            self.send_header("Retry-After", "1")  # the client honours 0 < s <= 60
            self.send_header("Content-Length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = _serve(Busy)
    try:
        url = f"http://127.0.0.1:{server.server_port}/v1"
        with pytest.raises(vl.RemoteError, match="HTTP 503"):
            remote.RemoteLLM(url, attempts=3, timeout=10)
    finally:
        server.shutdown()
    assert len(seen) == 3  # the first try and two retries
    # Retry-After: 1 s between tries (the client's own back-off would wait 0.5 s).
    assert all(later - earlier >= 0.9 for earlier, later in zip(seen, seen[1:])), seen


def test_one_call_is_bounded_in_total_time_not_per_try():
    with socket.socket() as listener:  # accepts connections, never answers
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        start = time.monotonic()
        with pytest.raises(vl.RemoteError, match="did not answer within 1 s"):
            remote.RemoteLLM(url, attempts=3, timeout=1.0)
        took = time.monotonic() - start
    assert took < 2.0, f"one call took {took:.1f} s with a 1 s budget"


def test_the_openai_client_does_the_retries():
    """A server that drops every connection sees the first try and two retries,
    counted where they arrive (not in vlesson's own message)."""
    accepted = []
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen(16)
        listener.settimeout(0.2)

        def drop() -> None:
            while not done.is_set():
                try:
                    connection, _ = listener.accept()
                except (TimeoutError, OSError):
                    continue
                accepted.append(time.monotonic())
                connection.close()

        done = threading.Event()
        thread = threading.Thread(target=drop, daemon=True)
        thread.start()
        url = f"http://127.0.0.1:{listener.getsockname()[1]}/v1"
        try:
            with pytest.raises(vl.RemoteError, match="3 tries"):
                remote.RemoteLLM(url, attempts=3, timeout=10)
        finally:
            done.set()
            thread.join(5)
    assert len(accepted) == 3


def test_a_servers_cache_key_names_the_server_and_an_unknown_dtype():
    one = EngineFacts(model="m", device="remote", server_url="http://a:8000/v1")
    two = EngineFacts(model="m", device="remote", server_url="http://b:8000/v1")
    assert one.fingerprint != two.fingerprint
    assert one.fingerprint["server"] == "http://a:8000/v1"
    assert one.fingerprint["dtype"] == facts.UNKNOWN_DTYPE
    local = EngineFacts(model="m", dtype="bfloat16")
    assert (
        "server" not in local.fingerprint and local.fingerprint["dtype"] == "bfloat16"
    )
