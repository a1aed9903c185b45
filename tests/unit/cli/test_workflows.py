"""batch, sweep, cache and --log on the command line: bad input exits 2 before any
engine starts (vLLM's parser is built; no engine is)."""

from __future__ import annotations

import pytest

from vlesson import cli
from vlesson.cli import arguments
from vlesson.generate import Generation
from vlesson.workflows.cache import ResultCache, make_request, request_key


@pytest.mark.parametrize(
    "argv, message",
    [
        (["batch", "--prompt", "x"], "--out"),
        (["batch", "--out", "o"], "--prompts-file"),
        (["batch", "--prompt", "x", "--out", "o", "--chunk-size", "0"], "--chunk-size"),
        (["batch", "--prompt", "x", "--out", "o", "--top-p", "2"], "top_p must be in"),
        (["sweep", "--out", "o", "--grid", "top_p=0.5,1.5"], "top_p must be in"),
        (["sweep", "--out", "o", "--grid", "temp=1"], "NAME=V1,V2"),
        (["sweep", "--out", "o", "--temperature", "0.5"], "temperature given both"),
        (["generate", "--log", "runs.txt"], ".jsonl or .csv"),
        (["batch", "--prompt", "x", "--out", "o", "--log", "r.log"], ".jsonl or .csv"),
    ],
)
def test_bad_input_exits_2_with_the_problem_named(
    argv, message, capsys, tmp_path, monkeypatch
):
    monkeypatch.chdir(tmp_path)
    import vlesson.engine

    monkeypatch.setattr(vlesson.engine, "get_llm", _no_engine)
    try:
        code = cli.main(argv)
    except SystemExit as exc:  # argparse's own errors (a missing required option)
        code = exc.code
    assert code == 2
    assert message in capsys.readouterr().err


def _no_engine(*args, **kwargs):
    raise AssertionError("an engine was started for bad input")


def test_cache_stats_and_clear(tmp_path, capsys):
    path = tmp_path / "c.sqlite"
    request = make_request({"model": "m"}, "p", {"temperature": 0})
    gen = Generation("p", "t", (1,), "stop", 1, {}, 0.1)
    ResultCache(path).put(request_key(request), request, gen)
    assert cli.main(["cache", "stats", "--path", str(path)]) == 0
    assert "entries       1" in capsys.readouterr().out
    assert cli.main(["cache", "clear", "--path", str(path)]) == 0
    assert ResultCache(path).stats()["entries"] == 0


def test_prompts_file_splits_on_newlines_only(tmp_path):
    path = tmp_path / "p.txt"
    path.write_text(
        "a\u2028b\x0cc\n# note\n\n../../etc/passwd\r\nx\x00y\n", encoding="utf-8"
    )
    assert arguments.read_prompts_file(path) == [
        "a\u2028b\x0cc",
        "../../etc/passwd",
        "x\x00y",
    ]
