"""Run log (exercise 2.11): a ``logging.Handler`` that appends every generation to a
JSONL or CSV file, and ``load`` to read it back into pandas in one call.

``vlesson.generate`` emits each Generation on the ``vlesson.runs`` logger, so once a
handler is attached every entry point (CLI, notebook, slider, API) is logged::

    with vl.runlog.logging_to("runs.jsonl"):
        vl.generate(llm, prompts)
    df = vl.runlog.load("runs.jsonl")
"""

from __future__ import annotations

import contextlib
import csv
import fcntl
import io
import json
import logging
import warnings
from collections.abc import Iterator
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, BinaryIO

from vlesson.facts import engine_facts
from vlesson.files import read_jsonl
from vlesson.generate import Generation, run_logger
from vlesson.sampling import PARAMS

if TYPE_CHECKING:
    import pandas as pd
    from vllm import LLM

logger = logging.getLogger(__name__)

FORMATS = {".jsonl": "jsonl", ".csv": "csv"}

ENGINE_COLUMNS = (
    "model",
    "dtype",
    "quantization",
    "max_model_len",
    "kv_cache_dtype",
    "enforce_eager",
    "gpu_memory_utilization",
    "kv_cache_memory_bytes",
    "device",
    "vllm",
)
RESULT_COLUMNS = (
    "prompt",
    "text",
    "seconds",
    "prompt_tokens",
    "completion_tokens",
    "chars",
    "finish_reason",
    "tokens_per_s",
    "mean_logprob",
)
TEXT_COLUMNS = {"prompt", "text", "finish_reason", "model"}
COLUMNS = ("timestamp", *ENGINE_COLUMNS, *PARAMS, *RESULT_COLUMNS)
"""One row per generation; sampling columns carry vLLM's parameter names."""


def log_format(path: str | Path) -> str:
    """Return "jsonl" or "csv" from the file name, or raise ValueError with the fix."""
    suffix = Path(path).suffix.lower()
    if suffix not in FORMATS:
        raise ValueError(
            f"run log {path} must end in .jsonl or .csv, got {suffix or 'no suffix'!r}"
            " - e.g. runs.jsonl"
        )
    return FORMATS[suffix]


def row(gen: Generation, engine: dict[str, Any] | None = None) -> dict[str, Any]:
    """Return one run-log row: when, engine settings, sampling settings, result."""
    seconds = gen.seconds
    return {
        "timestamp": datetime.now(UTC).isoformat(timespec="milliseconds"),
        **{k: (engine or {}).get(k) for k in ENGINE_COLUMNS},
        **{k: gen.params.get(k) for k in PARAMS},
        "prompt": gen.prompt,
        "text": gen.text,
        "seconds": round(seconds, 4),
        "prompt_tokens": gen.prompt_tokens,
        "completion_tokens": gen.num_tokens,
        "chars": len(gen.text),
        "finish_reason": gen.finish_reason,
        # seconds is the whole batched call: this is the request's own rate.
        "tokens_per_s": round(gen.num_tokens / seconds, 2) if seconds > 0 else None,
        "mean_logprob": gen.mean_logprob,
    }


def engine_columns(llm: LLM) -> dict[str, Any]:
    """Return the effective engine settings of ``llm`` for the log's engine columns."""
    facts = engine_facts(llm)
    info = {k: v for k, v in facts.info().items() if k != "model"}
    return {**facts.fingerprint, **info}


class RunLogHandler(logging.Handler):
    """Append each Generation record of ``vlesson.runs`` to a JSONL or CSV file."""

    def __init__(self, path: str | Path, *, level: int = logging.INFO):
        super().__init__(level)
        self.path = Path(path)
        self.format_name = log_format(self.path)

    def __repr__(self) -> str:
        return f"RunLogHandler({str(self.path)!r})"

    def emit(self, record: logging.LogRecord) -> None:
        """Write the record's Generation as one line (records without one are skipped)."""
        gen = getattr(record, "generation", None)
        if not isinstance(gen, Generation):
            return
        try:
            llm = getattr(record, "llm", None)
            self._append(row(gen, engine_columns(llm) if llm is not None else None))
        except Exception:  # noqa: BLE001 - logging's rule: report, never raise
            self.handleError(record)

    def _append(self, entry: dict[str, Any]) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with open(self.path, "ab+") as handle:
            # One writer at a time across processes; each entry is whole lines.
            fcntl.flock(handle, fcntl.LOCK_EX)
            try:
                handle.write(self._lines(handle, entry).encode("utf-8"))
                handle.flush()
            finally:
                fcntl.flock(handle, fcntl.LOCK_UN)

    def _lines(self, handle: BinaryIO, entry: dict[str, Any]) -> str:
        size = handle.seek(0, io.SEEK_END)
        start = ""
        if size:  # a writer killed mid-line left no newline: start a fresh line
            handle.seek(size - 1)
            start = "" if handle.read(1) == b"\n" else "\n"
        if self.format_name == "jsonl":
            return start + json.dumps(entry, ensure_ascii=False, default=str) + "\n"
        handle.seek(0)
        first = handle.readline().decode("utf-8", "replace")
        header = next(csv.reader([first])) if first.strip() else None
        buffer = io.StringIO()
        # An older log keeps its own columns.
        writer = csv.DictWriter(
            buffer, fieldnames=header or COLUMNS, extrasaction="ignore"
        )
        if header is None:
            writer.writeheader()
        writer.writerow(entry)
        return start + buffer.getvalue()


def attach(path: str | Path) -> RunLogHandler:
    """Start logging every generation to ``path`` (.jsonl or .csv); return the handler."""
    handler = RunLogHandler(path)
    if run_logger.getEffectiveLevel() > logging.INFO:
        run_logger.setLevel(logging.INFO)
    run_logger.addHandler(handler)
    return handler


def detach(handler: RunLogHandler) -> None:
    """Stop logging to this handler's file."""
    run_logger.removeHandler(handler)
    handler.close()
    if not any(isinstance(h, RunLogHandler) for h in run_logger.handlers):
        run_logger.setLevel(logging.NOTSET)


@contextlib.contextmanager
def logging_to(path: str | Path, *, propagate: bool = True) -> Iterator[RunLogHandler]:
    """Log every generation inside the ``with`` block to ``path``.

    Args:
        propagate: False keeps the records away from the root logger's handlers
            (the CLI's stderr), so only the file receives them.
    """
    handler = attach(path)
    before = run_logger.propagate
    run_logger.propagate = propagate and before
    try:
        yield handler
    finally:
        run_logger.propagate = before
        detach(handler)


def load(path: str | Path) -> pd.DataFrame:
    """Read a run log (.jsonl or .csv) into a DataFrame, one row per generation.

    A damaged line (say, from a process killed mid-write) is skipped with a warning.
    """
    import pandas as pd

    if log_format(path) == "csv":
        frame = pd.read_csv(  # a tail cut inside a character: replaced, not fatal
            path,
            on_bad_lines="warn",
            keep_default_na=False,
            na_values=[""],
            encoding="utf-8",
            encoding_errors="replace",
        )
        for column in TEXT_COLUMNS & set(frame.columns):
            frame[column] = frame[column].fillna("").astype(str)
    else:
        frame = pd.DataFrame(_jsonl_rows(Path(path)))
    if "timestamp" in frame:
        frame["timestamp"] = pd.to_datetime(
            frame["timestamp"], utc=True, format="ISO8601"
        )
    return frame


def _jsonl_rows(path: Path) -> list[dict[str, Any]]:
    def damaged(number: int) -> None:
        warnings.warn(f"{path}:{number}: damaged run-log line skipped", stacklevel=4)

    return read_jsonl(path, damaged)
