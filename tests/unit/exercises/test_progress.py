"""Two kernels recording at once lose nothing (``lesson/progress.py``: a lock around
load-change-save, a unique temporary name per writer), a damaged file is kept aside,
and a check still gives its verdict when the progress file cannot be written."""

from __future__ import annotations

import json
import multiprocessing
import os
import threading

import vlesson as vl
import vlesson.exercises.check  # importing the checks registers them in grading
from tests.lesson_answers import reference
from vlesson import envvars, files
from vlesson.exercises import grading, progress

HINTS_EACH = 150


def _hints(path: str, exercise: str, count: int, errors) -> None:
    os.environ[envvars.PROGRESS] = path
    failures = []
    for _ in range(count):
        try:
            progress.next_hint(exercise)
        except Exception as exc:  # noqa: BLE001 - counted, the test says which
            failures.append(f"{type(exc).__name__}: {exc}")
    errors.put(failures)


def test_two_processes_recording_at_once_keep_every_change(scratch_progress):
    context = multiprocessing.get_context("spawn")  # two interpreters, as two kernels
    errors = context.Queue()
    workers = [
        context.Process(target=_hints, args=(str(scratch_progress), ex, HINTS_EACH, errors))
        for ex in ("2.7", "2.7")
    ]
    for worker in workers:
        worker.start()
    failures = [errors.get(timeout=300) for _ in workers]
    for worker in workers:
        worker.join(60)
    assert failures == [[], []]
    records = json.loads(scratch_progress.read_text())["exercises"]
    assert records["2.7"]["hints"] == 2 * HINTS_EACH
    assert not [p for p in scratch_progress.parent.iterdir() if files.PARTIAL in p.name]


def test_two_writers_of_one_file_never_share_a_temporary_file(tmp_path):
    """Each atomic writer gets its own temporary name: threads writing the same
    target all finish, and the file holds one whole text."""
    target = tmp_path / "shared.txt"
    failures = []

    def write(n: int) -> None:
        for _ in range(200):
            try:
                files.write_atomic(target, f"{n}\n" * 1000)
            except OSError as exc:
                failures.append(exc)

    threads = [threading.Thread(target=write, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert failures == []
    assert len(set(target.read_text().split())) == 1
    assert os.listdir(tmp_path) == ["shared.txt"]


def test_a_damaged_progress_file_is_kept_aside_not_dropped(scratch_progress):
    scratch_progress.write_text('{"version": 1, "exercises": {"2.3": {"state": "pass')
    assert progress.load() == {}
    progress.record("2.7", "right")
    kept = [p for p in scratch_progress.parent.iterdir() if ".damaged-" in p.name]
    assert len(kept) == 1
    assert kept[0].read_text().endswith('"state": "pass')
    assert progress.load()["2.7"]["state"] == "passed"
    scratch_progress.write_text("[1, 2]")  # JSON, but not progress
    progress.revealed("2.7")
    assert len([p for p in scratch_progress.parent.iterdir()
                if ".damaged-" in p.name]) == 2


def test_a_check_gives_its_verdict_when_progress_cannot_be_written(
    tmp_path, monkeypatch
):
    blocker = tmp_path / "not-a-folder"
    blocker.write_text("")
    monkeypatch.setenv(envvars.PROGRESS, str(blocker / "progress.json"))
    check = grading.checkpoint("2.7")(lambda answer: "right, because")
    verdict = check("an answer")
    assert verdict.status == "right"
    assert "Hint 1/" in vl.hint("2.7")
    assert "Solution of 2.7" in vl.solution("2.7")


def test_an_exercise_of_several_checks_passes_when_each_says_right(scratch_progress):
    """2.15's validation (notebook 01) and retry (notebook 05) are one exercise of the
    sheet: it is passed once the last verdict of both checks is right."""
    both = ("validate_args", "retrying_client")
    progress.record("2.15", "right", check="validate_args", checks=both)
    assert progress.load()["2.15"]["state"] == "tried"
    row = next(r for r in progress.table() if r["exercise"] == "2.15")
    assert row["checks right"] == "1/2"
    progress.record("2.15", "right", check="retrying_client", checks=both)
    assert progress.load()["2.15"]["state"] == "passed"
    progress.record("2.15", "wrong", check="validate_args", checks=both)
    assert progress.load()["2.15"]["state"] == "tried"
    progress.record("2.15", "not attempted", check="validate_args", checks=both)
    assert progress.load()["2.15"]["checks"]["validate_args"] == "wrong"


def test_the_lesson_checks_of_2_15_are_in_01_and_05(scratch_progress):
    assert grading._checks_of("2.15", "retrying_client") == (
        "validate_args",
        "retrying_client",
    )
    vl.check.retrying_client(
        reference("05", "2.15")["post_with_retry"]
    )  # right, but validate_args is not yet
    assert progress.load()["2.15"]["state"] == "tried"
    vl.check.validate_args(reference("01", "2.15")["validate_args"])
    assert progress.load()["2.15"]["state"] == "passed"
