"""`vlesson serve`: the key beyond loopback, and what it says it loads."""

from __future__ import annotations

from vlesson.cli import main as cli_main
from vlesson.serving import api


def test_serve_beyond_loopback_makes_a_key_unless_told_to_run_open(monkeypatch, capsys):
    from vlesson.cli import serve

    monkeypatch.delenv(api.API_KEY_ENV, raising=False)
    parser = serve.build_parser()
    made = serve.server_key(parser.parse_args(["--host", "0.0.0.0"]))
    assert made and len(made) >= 20 and f"Bearer {made}" in capsys.readouterr().out
    assert serve.server_key(parser.parse_args(["--host", "0.0.0.0"])) != made
    assert (
        serve.server_key(parser.parse_args(["--host", "0.0.0.0", "--no-api-key"]))
        is None
    )
    assert "WITHOUT a key" in capsys.readouterr().err
    assert serve.server_key(parser.parse_args([])) is None  # loopback: no key needed
    monkeypatch.setenv(api.API_KEY_ENV, "given")
    assert serve.server_key(parser.parse_args(["--host", "0.0.0.0"])) == "given"


def test_serve_says_which_model_it_loads(monkeypatch, capsys):
    import uvicorn

    from vlesson.cli import serve

    monkeypatch.setattr(serve, "create_app", lambda **kwargs: object())
    monkeypatch.setattr(uvicorn, "run", lambda *args, **kwargs: None)
    assert cli_main(["serve", "--port", "8123"]) == 0
    out = capsys.readouterr().out
    assert "loading smollm2-135m-instruct" in out and "None" not in out
