"""A status line for a wait that reports no steps (an engine start): what runs, and
for how long.

``tqdm.auto`` draws it: a widget in JupyterLab, one line on stderr in a terminal. A
thread redraws it every ``interval`` seconds, since the work itself says nothing; with
a ``delay`` it shows only once the work has run that long.
"""

from __future__ import annotations

import contextlib
import threading
from collections.abc import Iterator
from typing import IO, Any


@contextlib.contextmanager
def elapsed(
    doing: str,
    done: str,
    *,
    delay: float = 0.0,
    interval: float = 1.0,
    file: IO[str] | None = None,
) -> Iterator[Any]:
    """Show ``doing`` and the time so far while the body runs; then ``done`` and the
    time it took, or ``doing`` "failed after" it when the body raises. Nothing shows
    when the body ends within ``delay`` seconds."""
    from tqdm.auto import tqdm

    line = tqdm(desc=doing, bar_format="{desc} {elapsed}", file=file, delay=delay)
    stop = threading.Event()
    ticker = threading.Thread(target=_redraw, args=(line, stop, interval), daemon=True)
    ticker.start()
    try:
        yield line
        line.set_description_str(done, refresh=False)
    except BaseException:
        line.set_description_str(f"{doing} failed after", refresh=False)
        raise
    finally:
        stop.set()
        ticker.join()
        line.close()


def _redraw(line: Any, stop: threading.Event, interval: float) -> None:
    while not stop.wait(interval):
        line.update(0)  # a redraw that honours the delay, as tqdm's own updates do
