"""`vlesson classroom-server`: no key in the command it prints, a key made beyond
loopback, open only when asked."""

from __future__ import annotations

import re

from vlesson import envvars
from vlesson.cli import main as cli_main

SECRET = "s3cret-key-of-the-class"


def test_the_cli_prints_no_key_in_the_command(monkeypatch, capsys):
    monkeypatch.setenv(envvars.SERVER_API_KEY, SECRET)
    assert cli_main(["classroom-server", "--host", "0.0.0.0", "--dry-run"]) == 0
    out = capsys.readouterr().out
    command = out.splitlines()[0]
    assert "api_server" in command and SECRET not in command
    assert "--api-key" not in command


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
