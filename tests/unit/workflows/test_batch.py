"""Batch file naming, atomic writes and the manifest, without an engine."""

from __future__ import annotations

import fcntl
import json

import pytest

from vlesson import files
from vlesson.workflows import batch


@pytest.mark.parametrize("key", ["a" * 64, "0123456789abcdef" * 4])
def test_result_names_come_from_counter_and_hash_only(key):
    name = batch.result_name(7, key)
    assert name == f"00007-{key[:12]}.txt"


def test_write_atomic_leaves_no_partial_file(tmp_path):
    path = tmp_path / "out.txt"
    batch.write_atomic(path, "first")
    batch.write_atomic(path, "second \x00 / ..")
    assert path.read_text() == "second \x00 / .."
    assert [p.name for p in tmp_path.iterdir()] == ["out.txt"]


def test_manifest_survives_a_line_cut_by_a_kill(tmp_path):
    batch._append(tmp_path, {"key": "k1", "status": "ok"})
    with open(tmp_path / batch.MANIFEST, "a") as handle:
        handle.write('{"key": "k2", "sta')  # killed mid-write
    batch._append(tmp_path, {"key": "k3", "status": "ok"})
    assert [r["key"] for r in batch.read_manifest(tmp_path)] == ["k1", "k3"]
    lines = (tmp_path / batch.MANIFEST).read_text().splitlines()
    assert json.loads(lines[-1])["key"] == "k3"


def test_pending_skips_only_prompts_with_a_result_file(tmp_path):
    (tmp_path / "a.txt").write_text("done")
    for row in (
        {"key": "A", "status": "ok", "file": "a.txt"},
        {"key": "B", "status": "ok", "file": "missing.txt"},
        {"key": "C", "status": "error"},
    ):
        batch._append(tmp_path, row)
    report = batch.BatchReport(tmp_path)
    # A twice: one result covers the first occurrence only.
    assert batch._pending(tmp_path, ["A", "B", "C", "A"], report) == [1, 2, 3]
    assert report.skipped == 1


CUT = '{"key": "k2", "prompt": "caf\u00e9'.encode()[:-1]  # cut inside the \u00e9


class _StopAtTheEngine:
    """An engine a batch run stops at: what happens before it is what counts."""

    def __getattr__(self, name):
        raise RuntimeError("stop: the engine")


def test_manifest_reader_skips_a_tail_cut_inside_a_multibyte_character(tmp_path):
    batch._append(tmp_path, {"key": "k1", "status": "ok", "prompt": "na\u00efve"})
    with open(tmp_path / batch.MANIFEST, "ab") as handle:
        handle.write(CUT)
    assert [r["key"] for r in batch.read_manifest(tmp_path)] == ["k1"]


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
