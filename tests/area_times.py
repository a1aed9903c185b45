"""A pytest plugin (`-p tests.area_times`, which `make test` passes): time per area at the end.

An area is a test folder (tests/unit, tests/integration, tests/browser) or one notebook, so a
full run shows where its minutes go; `--durations=N` gives the single slowest steps.
"""

from __future__ import annotations

from collections import defaultdict

import pytest

_seconds: dict[str, float] = defaultdict(float)
_items: dict[str, set[str]] = defaultdict(set)


def _area(nodeid: str) -> str:
    path = nodeid.split("::", 1)[0]
    parts = path.split("/")
    return "/".join(parts[:2]) if parts[0] == "tests" and len(parts) > 2 else path


def pytest_runtest_logreport(report: pytest.TestReport) -> None:
    area = _area(report.nodeid)
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
        f"{total:8.1f} s in tests (collection and start-up not counted)"
    )
