"""The one per-user directory where vlesson keeps converted models, caches and logs."""

from __future__ import annotations

import os
import sys
from pathlib import Path

from vlesson import envvars


def home() -> Path:
    """Return vlesson's per-user directory ($VLESSON_HOME, else ~/.cache/vlesson)."""
    explicit = os.environ.get(envvars.HOME)
    if explicit:
        return Path(explicit).expanduser()
    cache = os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache"
    return Path(cache) / "vlesson"


def subdir(name: str) -> Path:
    """Return (and create) a folder inside the per-user directory."""
    path = home() / name
    path.mkdir(parents=True, exist_ok=True)
    return path


PROJECT_ROOT = Path(__file__).resolve().parents[1]
"""The checkout vlesson runs from: its ``configs/``, ``notebooks/`` and
``text_generation.py`` (``make setup`` installs the package from it, editable)."""


def project_file(*parts: str) -> Path:
    """Return a file of the project (e.g. ``project_file("configs", "x.json")``),
    whatever the working directory; FileNotFoundError if this install has none."""
    path = PROJECT_ROOT.joinpath(*parts)
    if not path.exists():
        raise FileNotFoundError(
            f"{path} is not there: the project's files come with its checkout "
            "(git clone, then make setup), not with the vlesson package alone"
        )
    return path


def put_commands_on_path() -> None:
    """Put the folder of this interpreter's commands (``vlesson``, ``jupyter``) first on
    PATH when it is not there, so that a notebook's ``!vlesson ...`` cell works in a
    JupyterLab started some other way than ``make lab`` (which puts it there)."""
    folder = os.path.dirname(sys.executable)
    path = os.environ.get("PATH", "")
    on_path = folder in path.split(os.pathsep)
    if not on_path and os.path.exists(os.path.join(folder, "vlesson")):
        os.environ["PATH"] = folder + os.pathsep + path if path else folder
