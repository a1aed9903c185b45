"""Where the learner is: one small JSON file in vlesson's per-user directory.

Kept across kernel restarts and notebooks, on the learner's machine only (no server,
no account). ``$VLESSON_PROGRESS`` points it at another file (the tests do).
"""

from __future__ import annotations

import datetime as dt
import json
import logging
import os
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


def load() -> dict[str, dict[str, Any]]:
    """Return {exercise id: its record}; empty when nothing was recorded yet."""
    try:
        data = json.loads(path().read_text(encoding="utf-8"))
    except FileNotFoundError:
        return {}
    except (OSError, ValueError) as exc:  # damaged: start again rather than fail
        logger.warning("progress file %s unreadable (%s): starting afresh", path(), exc)
        return {}
    return data.get("exercises", {}) if isinstance(data, dict) else {}


def _save(records: dict[str, dict[str, Any]]) -> None:
    text = json.dumps({"version": 1, "exercises": records}, indent=1, sort_keys=True)
    files.write_atomic(path(), text + "\n")


def _now() -> str:
    return dt.datetime.now().astimezone().isoformat(timespec="seconds")


def _update(exercise: str, **changes: Any) -> dict[str, Any]:
    registry.get(exercise)
    records = load()
    record = records.setdefault(exercise, {})
    record.update(changes, date=_now())
    _save(records)
    return record


def record(exercise: str, status: str) -> None:
    """Record a check's verdict ("not attempted" changes nothing)."""
    if status == "right":
        _update(exercise, state="passed")
    elif status == "wrong":
        state = load().get(exercise, {}).get("state")
        _update(exercise, state=state if state == "solution revealed" else "tried")


def revealed(exercise: str) -> None:
    """Record that the reference answer was shown."""
    _update(exercise, state="solution revealed", revealed=True)


def next_hint(exercise: str) -> int:
    """Count one more hint asked for; return how many were asked before this one."""
    before = int(load().get(exercise, {}).get("hints", 0))
    _update(exercise, hints=before + 1)
    return before


def table() -> list[dict[str, Any]]:
    """One row per exercise of the sheet, in the sheet's order."""
    records = load()
    rows = []
    for ex in registry.exercises():
        rec = records.get(ex.id, {})
        rows.append(
            {
                "exercise": ex.id,
                "level": ex.mark,
                "title": ex.title,
                "notebook": ex.notebook,
                "status": rec.get("state", "not attempted"),
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
        files.write_atomic(path(), json.dumps({"version": 1, "exercises": {}}) + "\n")
        return
    records = load()
    records.pop(registry.get(exercise).id, None)
    _save(records)
