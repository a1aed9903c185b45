"""The one per-user directory where vlesson keeps converted models, caches and logs."""

from __future__ import annotations

import os
from pathlib import Path


def home() -> Path:
    """Return vlesson's per-user directory ($VLESSON_HOME, else ~/.cache/vlesson)."""
    explicit = os.environ.get("VLESSON_HOME")
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "vlesson"


def subdir(name: str) -> Path:
    """Return (and create) a folder inside the per-user directory."""
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path
