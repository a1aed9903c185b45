"""Where the learner is: one small JSON file in vlesson's per-user directory.

Kept across kernel restarts and notebooks, on the learner's machine only (no server,
no account). ``$VLESSON_PROGRESS`` points it at another file (the tests do).

Two kernels may record at once: every load-change-save holds an exclusive ``flock`` on
``progress.json.lock`` beside it, so no change is lost. A file that cannot be read is
kept aside as ``progress.json.damaged-DATE-UNIQUE`` (never dropped) before anew.
"""

from __future__ import annotations

import contextlib
import datetime as dt
import fcntl
import json
import logging
import os
from collections.abc import Iterator
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlesson import envvars, files, paths
from vlesson.exercises import registry

if TYPE_CHECKING:
    import pandas as pd

logger = logging.getLogger(__name__)

STATES = ("not attempted", "tried", "passed", "solution revealed")
"""What ``progress()`` shows for each exercise."""


def path() -> Path:
    """Return the progress file ($VLESSON_PROGRESS, else VLESSON_HOME/progress.json)."""
    explicit = os.environ.get(envvars.PROGRESS)
    return Path(explicit).expanduser() if explicit else paths.home() / "progress.json"


@contextlib.contextmanager
def _locked() -> Iterator[None]:
    """Hold the progress file's lock (``NAME.lock`` beside it) for one change."""
    lock = path().with_name(path().name + ".lock")
    lock.parent.mkdir(parents=True, exist_ok=True)
    with open(lock, "a") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def load() -> dict[str, dict[str, Any]]:
    """Return {exercise id: its record}; empty when nothing was recorded yet."""
    try:
        data = json.loads(path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # damaged: start again rather than fail
        logger.warning("progress file %s unreadable (%s): starting afresh", path(), exc)
        return {}
    if not isinstance(data, dict) or not isinstance(data.get("exercises", {}), dict):
        logger.warning("progress file %s holds no progress: starting afresh", path())
        return {}
    return data.get("exercises", {})


def _load_for_change() -> dict[str, dict[str, Any]]:
    """``load()`` for a change (the lock held): a file that cannot be read as progress
    is renamed aside first, so the save that follows never overwrites it."""
    records = load()
    if records or not path().exists():
        return records
    try:
        data = json.loads(path().read_text(encoding="utf-8"))
        if isinstance(data, dict) and isinstance(data.get("exercises", {}), dict):
            return records  # a readable file with nothing in it
    except (OSError, ValueError):
        pass
    stamp = dt.datetime.now().strftime("%Y%m%d-%H%M%S")
    kept = path().with_name(f"{path().name}.damaged-{stamp}-{files.unique_token()}")
    try:
        os.replace(path(), kept)
    except FileNotFoundError:
        return {}
    logger.warning("progress file %s was damaged: kept as %s, starting afresh",
                   path(), kept)
    return {}


def _save(records: dict[str, dict[str, Any]]) -> None:
    text = json.dumps({"version": 1, "exercises": records}, indent=1, sort_keys=True)
    files.write_atomic(path(), text + "\n")


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _update(exercise: str, change: Any) -> dict[str, Any]:
    """Load, change (``change(record)`` returns the new fields) and save, locked."""
    registry.get(exercise)
    with _locked():
        records = _load_for_change()
        record = records.setdefault(exercise, {})
        record.update(change(record), date=_now())
        _save(records)
    return record


def record(
    exercise: str, status: str, *, check: str = "", checks: tuple[str, ...] = ()
) -> None:
    """Record a check's verdict ("not attempted" and "not checked" change nothing).

    ``check`` names the check that gave it, ``checks`` every check of the exercise
    (2.15 has one in 01 and one in 05): the exercise is passed once the last verdict
    of each says right.
    """
    if status not in ("right", "wrong"):
        return
    checks = checks or (check,)

    def change(rec: dict[str, Any]) -> dict[str, Any]:
        said = rec.get("checks", {})
        said = {c: said.get(c, "not attempted") for c in checks} | {check: status}
        if all(v == "right" for v in said.values()):
            return {"state": "passed", "checks": said}
        revealed = rec.get("state") == "solution revealed"
        return {"state": "solution revealed" if revealed else "tried", "checks": said}

    _update(exercise, change)


def revealed(exercise: str) -> None:
    """Record that the reference answer was shown."""
    _update(exercise, lambda rec: {"state": "solution revealed", "revealed": True})


def next_hint(exercise: str) -> int:
    """Count one more hint asked for; return how many were asked before this one."""
    record = _update(exercise, lambda rec: {"hints": int(rec.get("hints", 0)) + 1})
    return record["hints"] - 1


def table() -> list[dict[str, Any]]:
    """One row per exercise of the sheet, in the sheet's order."""
    records = load()
    rows = []
    for ex in registry.exercises():
        rec = records.get(ex.id, {})
        said = rec.get("checks", {}).values()
        rows.append(
            {
                "exercise": ex.id,
                "level": ex.mark,
                "title": ex.title,
                "notebook": ex.notebook,
                "status": rec.get("state", "not attempted"),
                "checks right": f"{list(said).count('right')}/{len(said)}"
                if len(said) > 1 else "",
                "hints": int(rec.get("hints", 0)),
                "date": rec.get("date", "")[:16].replace("T", " "),
            }
        )
    return rows


def progress() -> pd.DataFrame:
    """Show every exercise and checkpoint with its status and the date it changed."""
    import pandas as pd

    return pd.DataFrame(table()).set_index("exercise")


def reset(exercise: str | None = None) -> None:
    """Forget one exercise's progress, or all of it."""
    if exercise is None:
        with _locked():
            files.write_atomic(
                path(), json.dumps({"version": 1, "exercises": {}}) + "\n"
            )
        return
    ex = registry.get(exercise)
    with _locked():
        records = _load_for_change()
        records.pop(ex.id, None)
        _save(records)
