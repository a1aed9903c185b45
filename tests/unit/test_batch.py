"""Batch file naming, atomic writes and the manifest, without an engine."""

from __future__ import annotations

import json

import pytest

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
