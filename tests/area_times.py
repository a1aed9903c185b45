"""A pytest plugin (`-p tests.area_times`, which `make test` passes): time per area.

An area is a test folder (tests/unit, tests/integration, tests/browser) or one notebook, so a
full run shows where its minutes go; `--durations=N` gives the single slowest steps. Each area
gets a line as soon as the next one starts (with the wall clock since the start), and SIGTERM
ends the run as Ctrl-C does, with the summary: a run stopped at a time limit (CI's) still
says where its time went.
"""

from __future__ import annotations

import signal
import time
from collections import defaultdict

import pytest

_seconds: dict[str, float] = defaultdict(float)
_items: dict[str, set[str]] = defaultdict(set)
_run = {"start": time.monotonic(), "area": None, "config": None}


def _area(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    return "/".join(parts[:2]) if parts[0] == "tests" and len(parts) > 2 else path


def _interrupt(signum, frame):
    raise KeyboardInterrupt(f"signal {signum}: the run was stopped from outside")


def pytest_configure(config: pytest.Config) -> None:
    _run["start"] = time.monotonic()
    _run["config"] = config
    signal.signal(signal.SIGTERM, _interrupt)


def _line(area: str) -> str:
    return f"{_seconds[area]:8.1f} s {len(_items[area]):5d} items  {area}"


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    area = _area(report.nodeid)
    finished, _run["area"] = _run["area"], area
    # the terminal reporter registers after this plugin's pytest_configure: ask now
    reporter = _run["config"].pluginmanager.get_plugin("terminalreporter")
    if finished not in (None, area) and reporter is not None:
        wall = time.monotonic() - _run["start"]
        reporter.write_line(f"[area done] {_line(finished)} ({wall:.0f} s in all)")
    _seconds[area] += report.duration
    _items[area].add(report.nodeid)


def pytest_terminal_summary(terminalreporter) -> None:
    if not _seconds:
        return
    total = sum(_seconds.values())
    terminalreporter.section("time per area")
    for area, seconds in sorted(_seconds.items(), key=lambda kv: -kv[1]):
        terminalreporter.write_line(
            f"{seconds:8.1f} s {100 * seconds / total:5.1f}%  {len(_items[area]):4d} items"
            f"  {area}"
        )
    terminalreporter.write_line(
        f"{total:8.1f} s in tests (collection and start-up not counted);"
        f" {time.monotonic() - _run['start']:.0f} s of wall clock"
    )
