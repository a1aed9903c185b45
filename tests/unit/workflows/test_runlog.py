"""The run-log handler: rows, both formats, attach/detach, damaged lines; no engine."""

from __future__ import annotations

import logging

import pytest

from vlesson.generate import Generation, run_logger
from vlesson.workflows import runlog


def gen(prompt="Hello, my name is", text=' "Ann",\nsaid she', n=4):
    return Generation(
        prompt=prompt,
        text=text,
        token_ids=tuple(range(n)),
        finish_reason="length",
        prompt_tokens=5,
        params={"temperature": 0.8, "top_p": 0.95, "max_tokens": n, "seed": 3},
        seconds=0.5,
        logprobs=(-1.0,) * n,
    )


def emit(g):
    run_logger.info("generation", extra={"generation": g, "llm": None})


@pytest.mark.parametrize("suffix", [".jsonl", ".csv"])
def test_every_generation_inside_the_block_is_logged_and_loads_in_one_call(
    tmp_path, suffix
):
    path = tmp_path / f"runs{suffix}"
    emit(gen())  # before: not logged
    with runlog.logging_to(path):
        emit(gen())
        emit(gen(prompt='a, "quoted"\nprompt', text="", n=2))
        run_logger.info("not a generation")  # ignored
    emit(gen())  # after: not logged
    df = runlog.load(path)
    assert list(df["prompt"]) == ["Hello, my name is", 'a, "quoted"\nprompt']
    assert list(df["text"]) == [' "Ann",\nsaid she', ""]
    assert list(df["completion_tokens"]) == [4, 2]
    assert list(df["tokens_per_s"]) == [8.0, 4.0]
    assert list(df["temperature"]) == [0.8, 0.8] and list(df["seed"]) == [3, 3]
    assert set(runlog.COLUMNS) <= set(df.columns)
    assert str(df["timestamp"].dtype).startswith("datetime64")
    assert run_logger.level == logging.NOTSET and not run_logger.handlers


def test_appends_across_sessions_keep_one_header(tmp_path):
    path = tmp_path / "runs.csv"
    for _ in range(2):
        with runlog.logging_to(path):
            emit(gen())
    assert path.read_text().count("timestamp,") == 1
    assert len(runlog.load(path)) == 2


def test_a_line_cut_by_a_killed_writer_is_skipped_and_the_next_row_is_whole(tmp_path):
    path = tmp_path / "runs.jsonl"
    with runlog.logging_to(path):
        emit(gen())
    with open(path, "a") as handle:
        handle.write('{"timestamp": "2025-01-01T00:00:00+00:00", "prom')
    with runlog.logging_to(path):
        emit(gen(prompt="after"))
    with pytest.warns(UserWarning, match="damaged run-log line"):
        df = runlog.load(path)
    assert list(df["prompt"]) == ["Hello, my name is", "after"]


def test_a_wrong_suffix_is_refused_with_the_fix(tmp_path):
    with pytest.raises(ValueError, match=r"\.jsonl or \.csv.*runs\.jsonl"):
        runlog.attach(tmp_path / "runs.txt")


def test_propagate_false_keeps_records_off_other_handlers(tmp_path):
    seen = []

    class Recorder(logging.Handler):
        def emit(self, record):
            seen.append(record)

    root = logging.getLogger()
    recorder = Recorder()
    root.addHandler(recorder)
    try:
        with runlog.logging_to(tmp_path / "a.jsonl", propagate=False):
            emit(gen())
        with runlog.logging_to(tmp_path / "b.jsonl"):
            emit(gen())
    finally:
        root.removeHandler(recorder)
    assert len(seen) == 1 and run_logger.propagate


CUT = '{"key": "k2", "prompt": "caf\u00e9'.encode()[:-1]  # cut inside the \u00e9


def test_run_log_readers_skip_a_tail_cut_inside_a_multibyte_character(tmp_path):
    jsonl = tmp_path / "log.jsonl"
    jsonl.write_bytes(b'{"prompt": "ok", "text": "\xc3\xa9"}\n' + CUT)
    with pytest.warns(UserWarning, match="damaged"):
        frame = runlog.load(jsonl)
    assert list(frame["prompt"]) == ["ok"]
    csv = tmp_path / "log.csv"
    csv.write_bytes(b"prompt,text\nok,\xc3\xa9\ncut,caf\xc3")
    assert next(iter(runlog.load(csv)["prompt"])) == "ok"
