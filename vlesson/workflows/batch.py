"""Batch generation (exercise 2.9): every prompt of a file in one batched call, one
result file per prompt plus a JSONL manifest; safe to kill and run again.

File names come from a counter and a hash, never from prompt text, so no prompt can
name a path outside the output folder. Each result file is written to a temporary name
and renamed; its manifest line is appended after, so what the manifest lists is whole.
"""

from __future__ import annotations

import contextlib
import fcntl
import json
import logging
import os
import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any

from vlesson.facts import engine_facts
from vlesson.files import PARTIAL, read_jsonl, write_atomic
from vlesson.generate import Generation, generate_each, per_prompt_params
from vlesson.workflows.cache import engine_fingerprint, make_request, request_key

if TYPE_CHECKING:
    import pandas as pd
    from vllm import LLM

logger = logging.getLogger(__name__)

MANIFEST = "manifest.jsonl"
CHUNK_SIZE = 256
"""Prompts per batched call: vLLM schedules at most this many at once on a CPU anyway.
Each result is saved as it finishes, so a killed run loses only what was in flight."""
_OWN_PARTIAL = re.compile(
    r"\d{5,}-[0-9a-f]{12}\.txt(\.\d+-[0-9a-f]{8})?" + re.escape(PARTIAL)
)
"""The partial files a batch run writes (result_name, a unique part, PARTIAL), and
no others."""


class BatchBusyError(RuntimeError):
    """Another batch run is writing into the same folder."""


@dataclass
class BatchReport:
    """What one batch run did."""

    out_dir: Path
    generated: int = 0
    skipped: int = 0
    """Prompts already done by an earlier run (same prompt, settings and engine)."""
    failed: list[dict[str, Any]] = field(default_factory=list)
    """Manifest rows of prompts that could not be generated, each with its ``error``."""

    def __str__(self) -> str:
        return (
            f"{self.generated} generated, {self.skipped} already done, "
            f"{len(self.failed)} failed -> {self.out_dir / MANIFEST}"
        )


def result_name(index: int, key: str) -> str:
    """Return a result file name: counter and hash only, whatever the prompt holds."""
    return f"{index:05d}-{key[:12]}.txt"


def read_manifest(out_dir: str | Path) -> list[dict[str, Any]]:
    """Return the manifest's rows; a damaged line (a killed run) is skipped."""
    path = Path(out_dir) / MANIFEST
    if not path.is_file():
        return []
    return read_jsonl(
        path, lambda n: logger.warning("%s:%d: damaged manifest line skipped", path, n)
    )


def load(out_dir: str | Path) -> pd.DataFrame:
    """Return the manifest as a DataFrame, one row per attempt."""
    import pandas as pd

    return pd.DataFrame(read_manifest(out_dir))


def run(
    llm: LLM,
    prompts: Sequence[str],
    out_dir: str | Path,
    params: Any = None,
    *,
    chunk_size: int = CHUNK_SIZE,
    use_tqdm: bool = True,
) -> BatchReport:
    """Generate every prompt not done yet, save each to its own file, and list it.

    Args:
        prompts: the prompts, in file order (their position numbers the files).
        out_dir: the output folder; created if missing, reused to resume.
        params: as for ``vl.generate``: overrides, a SamplingParams, or one per prompt.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    with _only_run(out):
        return _run(llm, list(prompts), out, params, chunk_size, use_tqdm)


@contextlib.contextmanager
def _only_run(out: Path):
    """Hold an exclusive lock on the manifest for the run: a second run into the
    same folder is refused at once instead of racing on it."""
    with open(out / MANIFEST, "ab") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise BatchBusyError(
                f"another vlesson batch is writing into {out} - wait for it to end, or "
                "give another --out"
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _run(
    llm: LLM,
    prompts: list[str],
    out: Path,
    params: Any,
    chunk_size: int,
    use_tqdm: bool,
) -> BatchReport:
    for stale in out.iterdir():  # left by a killed run of ours; never listed
        if _OWN_PARTIAL.fullmatch(stale.name):
            stale.unlink()
    per_prompt = per_prompt_params(llm, params, len(prompts))
    engine = engine_fingerprint(llm)
    keys = [
        request_key(make_request(engine, p, sp)) for p, sp in zip(prompts, per_prompt)
    ]
    report = BatchReport(out)
    todo = _pending(out, keys, report)
    todo = _drop_unfit(llm, prompts, todo, keys, report)
    for start in range(0, len(todo), chunk_size):
        chunk = todo[start : start + chunk_size]
        finished = generate_each(
            llm,
            [prompts[i] for i in chunk],
            [per_prompt[i] for i in chunk],
            use_tqdm=use_tqdm,
        )
        for j, gen in finished:  # saved as vLLM finishes each
            i = chunk[j]
            name = result_name(i + 1, keys[i])
            write_atomic(out / name, gen.text)
            _append(out, _ok_row(i + 1, keys[i], name, gen, engine["model"]))
            report.generated += 1
    return report


def _pending(out: Path, keys: list[str], report: BatchReport) -> list[int]:
    """Return the indexes still to do; a key done k times covers its first k prompts."""
    done = Counter(
        row["key"]
        for row in read_manifest(out)
        if row.get("status") == "ok" and (out / str(row.get("file"))).is_file()
    )
    todo = []
    for i, key in enumerate(keys):
        if done[key] > 0:
            done[key] -= 1
            report.skipped += 1
        else:
            todo.append(i)
    return todo


def _drop_unfit(
    llm: LLM, prompts: list[str], todo: list[int], keys: list[str], report: BatchReport
) -> list[int]:
    """Record prompts the model cannot take (too long, empty) instead of failing all."""
    tokenizer = llm.get_tokenizer()
    limit = engine_facts(llm).max_model_len
    fit = []
    for i in todo:
        count = len(tokenizer.encode(prompts[i]))
        if 0 < count < limit:
            fit.append(i)
            continue
        problem = (
            f"prompt is {count} tokens, the model's context is {limit} - shorten it"
            if count
            else "prompt is empty - remove the line"
        )
        row = {
            "index": i + 1,
            "key": keys[i],
            "status": "error",
            "prompt": prompts[i],
            "error": problem,
            "timestamp": _now(),
        }
        _append(report.out_dir, row)
        report.failed.append(row)
    return fit


def _ok_row(index: int, key: str, name: str, gen: Generation, model: str) -> dict:
    return {
        "index": index,
        "key": key,
        "status": "ok",
        "prompt": gen.prompt,
        "file": name,
        "model": model,
        "params": gen.params,
        "prompt_tokens": gen.prompt_tokens,
        "num_tokens": gen.num_tokens,
        "finish_reason": gen.finish_reason,
        "seconds": round(gen.seconds, 4),
        "chars": len(gen.text),
        "timestamp": _now(),
    }


def _append(out: Path, row: dict[str, Any]) -> None:
    path = out / MANIFEST
    with open(path, "ab+") as handle:
        size = handle.seek(0, os.SEEK_END)
        start = b""
        if size:  # a run killed mid-line: keep its fragment off this row's line
            handle.seek(size - 1)
            start = b"" if handle.read(1) == b"\n" else b"\n"
        line = json.dumps(row, ensure_ascii=False) + "\n"
        handle.write(start + line.encode("utf-8"))
        handle.flush()
        os.fsync(handle.fileno())


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")
