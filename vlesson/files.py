"""Files that a crash never leaves half-written, and JSON-lines that survive one.

Every file vlesson writes for later (results, manifests, reports, converted models)
goes through ``atomic_path``: it is written beside its target as
``NAME.UNIQUE.vlesson-partial`` and renamed onto it once whole, so a killed run leaves
the old file or none, and two processes writing the same file never share a temporary
one (UNIQUE: the process id and a random part).
"""

from __future__ import annotations

import contextlib
import json
import os
import secrets
import shutil
from collections.abc import Callable, Iterable, Iterator
from pathlib import Path
from typing import Any

PARTIAL = ".vlesson-partial"
"""Suffix of a file being written: a name no user gives a file, so vlesson deletes only
its own leftovers (a user's ``notes.partial`` is not one)."""


@contextlib.contextmanager
def atomic_path(path: str | Path, suffix: str = PARTIAL) -> Iterator[Path]:
    """Yield a path beside ``path`` to write to; rename it onto ``path`` on success.

    A file or a folder may be written there. On an exception the partial one is
    removed and ``path`` is left as it was. ``suffix`` keeps an extension a writer
    needs (matplotlib picks the format from it: ``.vlesson-partial.png``).
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    partial = path.with_name(f"{path.name}.{unique_token()}{suffix}")
    try:
        yield partial
        os.replace(partial, path)  # appears whole or not at all
    finally:
        _remove(partial)


def unique_token() -> str:
    """A part of a file name no other writer picks: process id and 8 random hex."""
    return f"{os.getpid()}-{secrets.token_hex(4)}"


def _remove(path: Path) -> None:
    if path.is_dir() and not path.is_symlink():
        shutil.rmtree(path, ignore_errors=True)
    else:
        path.unlink(missing_ok=True)


def write_atomic(path: str | Path, text: str) -> None:
    """Write text to path so that a crash leaves the old file or none, never half."""
    with atomic_path(path) as partial, open(partial, "w", encoding="utf-8") as handle:
        handle.write(text)
        handle.flush()
        os.fsync(handle.fileno())


def write_jsonl(path: str | Path, rows: Iterable[dict[str, Any]]) -> None:
    """Write rows as JSON lines, atomically."""
    write_atomic(path, "".join(json.dumps(r, ensure_ascii=False) + "\n" for r in rows))


def read_jsonl(
    path: str | Path, on_damaged: Callable[[int], None] | None = None
) -> list[dict[str, Any]]:
    """Return the JSON objects of a JSON-lines file, skipping blank lines.

    A damaged line (a run killed while appending, even inside a multi-byte character)
    is skipped; ``on_damaged`` is called with its 1-based number so the caller can say
    so. The file is read as bytes and each line decoded on its own.
    """
    rows = []
    for number, raw in enumerate(Path(path).read_bytes().split(b"\n"), 1):
        if not raw.strip():
            continue
        try:
            rows.append(json.loads(raw.decode("utf-8")))
        except (UnicodeDecodeError, json.JSONDecodeError):
            if on_damaged is not None:
                on_damaged(number)
    return rows
