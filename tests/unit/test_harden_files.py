"""Issue 18, files and the result cache: nothing vlesson did not write is deleted, a
damaged tail never stops a reader, two batch runs never share a folder, the offline
model's file is checked against its pinned hash."""

from __future__ import annotations

import fcntl
import sqlite3
import threading

import pytest

from vlesson import files, models
from vlesson.cli import main as cli_main
from vlesson.workflows import batch, runlog
from vlesson.workflows.cache import ResultCache


def test_cache_clear_refuses_a_file_that_is_not_a_vlesson_cache(tmp_path, capsys):
    notes = tmp_path / "notes.txt"
    notes.write_text("a week of notes\n")
    assert cli_main(["cache", "clear", "--path", str(notes)]) == 2
    assert notes.read_text() == "a week of notes\n"
    assert "not a vlesson result cache" in capsys.readouterr().err


def test_cache_clear_leaves_another_programs_sqlite_database_alone(tmp_path):
    other = tmp_path / "shop.sqlite"
    with sqlite3.connect(other) as conn:
        conn.execute("CREATE TABLE results (order_id INTEGER, total REAL)")
        conn.execute("INSERT INTO results VALUES (1, 9.5)")
    assert cli_main(["cache", "clear", "--path", str(other)]) == 2
    with sqlite3.connect(other) as conn:
        assert conn.execute("SELECT * FROM results").fetchall() == [(1, 9.5)]


def test_cache_clear_still_empties_and_deletes_a_damaged_vlesson_cache(tmp_path):
    path = tmp_path / "results.sqlite"
    ResultCache(path).record_totals(1, 2)
    assert ResultCache(path).stats()["total_misses"] == 2
    ResultCache(path).clear()
    assert ResultCache(path).stats()["total_misses"] == 0
    head = path.read_bytes()[:100]  # the header, the rest overwritten
    path.write_bytes(head + b"\xff" * 4000)
    assert cli_main(["cache", "clear", "--path", str(path)]) == 0
    assert not path.exists() or ResultCache(path).stats()["entries"] == 0


def test_a_memory_cache_returns_and_keeps_its_entries():
    done = {}

    def use():
        cache = ResultCache(":memory:")
        cache.record_totals(3, 4)
        done["stats"] = cache.stats()

    thread = threading.Thread(target=use, daemon=True)
    thread.start()
    thread.join(10)
    assert not thread.is_alive(), "ResultCache(':memory:') never returned"
    assert done["stats"]["total_hits"] == 3


def test_cache_stats_on_a_damaged_file_is_one_clean_line(tmp_path, capsys):
    path = tmp_path / "results.sqlite"
    path.write_bytes(b"SQLite format 3\x00" + b"\x00" * 84 + b"garbage" * 100)
    code = cli_main(["cache", "stats", "--path", str(path)])
    err = capsys.readouterr().err
    lines = [line for line in err.splitlines() if line.strip()]
    assert code == 1
    assert len(lines) == 1 and lines[0].startswith("vlesson cache: "), err
    assert "warning" not in err.lower(), err  # the error, not a warning beside it


CUT = '{"key": "k2", "prompt": "caf\u00e9'.encode()[:-1]  # cut inside the \u00e9


def test_manifest_reader_skips_a_tail_cut_inside_a_multibyte_character(tmp_path):
    batch._append(tmp_path, {"key": "k1", "status": "ok", "prompt": "na\u00efve"})
    with open(tmp_path / batch.MANIFEST, "ab") as handle:
        handle.write(CUT)
    assert [r["key"] for r in batch.read_manifest(tmp_path)] == ["k1"]


def test_run_log_readers_skip_a_tail_cut_inside_a_multibyte_character(tmp_path):
    jsonl = tmp_path / "log.jsonl"
    jsonl.write_bytes(b'{"prompt": "ok", "text": "\xc3\xa9"}\n' + CUT)
    with pytest.warns(UserWarning, match="damaged"):
        frame = runlog.load(jsonl)
    assert list(frame["prompt"]) == ["ok"]
    csv = tmp_path / "log.csv"
    csv.write_bytes(b"prompt,text\nok,\xc3\xa9\ncut,caf\xc3")
    assert next(iter(runlog.load(csv)["prompt"])) == "ok"


class _StopAtTheEngine:
    """An engine a batch run stops at: what happens before it is what counts."""

    def __getattr__(self, name):
        raise RuntimeError("stop: the engine")


def test_batch_deletes_only_its_own_partial_files(tmp_path):
    mine = tmp_path / (batch.result_name(3, "a" * 64) + files.PARTIAL)
    mine.write_text("half")
    theirs = [tmp_path / "notes.partial", tmp_path / "draft.txt.partial",
              tmp_path / (batch.result_name(4, "b" * 64) + ".partial")]
    for path in theirs:
        path.write_text("keep me")
    with pytest.raises(RuntimeError, match="stop: the engine"):
        batch.run(_StopAtTheEngine(), ["p"], tmp_path)
    assert not mine.exists()
    assert all(path.read_text() == "keep me" for path in theirs)


def test_a_second_batch_into_the_same_folder_is_refused(tmp_path):
    (tmp_path / batch.MANIFEST).write_text("")
    with open(tmp_path / batch.MANIFEST, "a") as held:  # a first run, still going
        fcntl.flock(held, fcntl.LOCK_EX | fcntl.LOCK_NB)
        with pytest.raises(batch.BatchBusyError, match="another vlesson batch"):
            batch.run(_StopAtTheEngine(), ["p"], tmp_path)
    with pytest.raises(RuntimeError, match="stop: the engine"):  # free again
        batch.run(_StopAtTheEngine(), ["p"], tmp_path)


def test_the_default_model_is_pinned_and_a_mismatch_refused(tmp_path, monkeypatch):
    spec = models.OFFLINE_MODELS[models.DEFAULT_MODEL]
    assert spec.sha256 and len(spec.sha256) == 64
    fake = tmp_path / spec.gguf_file
    fake.write_bytes(b"GGUF not the model")
    monkeypatch.setattr(models, "_part_path", lambda part: fake)
    with pytest.raises(models.ModelNotAvailableError, match="SHA-256") as caught:
        models._find_gguf(spec)
    assert spec.parts[0].requirement in str(caught.value)
