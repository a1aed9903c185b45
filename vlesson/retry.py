"""Bounded retries with back-off, for failures that can pass (network, timeouts)."""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import TypeVar

logger = logging.getLogger(__name__)

T = TypeVar("T")

TRANSIENT: tuple[type[BaseException], ...] = (ConnectionError, TimeoutError)
"""Errors worth another try. Validation and configuration errors are never retried."""


def is_transient(exc: BaseException) -> bool:
    """Return True for errors that may pass on their own (network, timeouts)."""
    if isinstance(exc, TRANSIENT):
        return True
    # requests/httpx wrap socket errors in their own classes; judge them by name.
    name = type(exc).__name__
    return name.endswith(("ConnectionError", "ConnectError", "Timeout", "TimeoutError"))


def retry(
    fn: Callable[[], T],
    *,
    what: str,
    attempts: int = 3,
    backoff: float = 0.5,
    sleep: Callable[[float], None] = time.sleep,
) -> T:
    """Call ``fn``; on a transient error wait backoff * 2**k and try again, at most
    ``attempts`` times in all. Other errors propagate at once."""
    for attempt in range(1, attempts):
        try:
            return fn()
        except Exception as exc:
            if not is_transient(exc):
                raise
            delay = backoff * 2 ** (attempt - 1)
            logger.warning(
                "%s failed (%s: %s); retry %d/%d in %.1f s",
                what, type(exc).__name__, exc, attempt, attempts - 1, delay,
            )
            sleep(delay)
    return fn()  # the last attempt: its error reaches the caller
