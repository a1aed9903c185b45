"""Bounded retries with back-off, for failures that can pass (network, timeouts)."""

from __future__ import annotations

import logging
import random
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
    transient: Callable[[BaseException], bool] = is_transient,
) -> T:
    """Call ``fn``; on a transient error wait backoff * 2**k, less up to a quarter at
    random (jitter, as the openai client does: many clients do not retry in step),
    and try again, at most ``attempts`` times in all. Other errors propagate at once."""
    for attempt in range(1, attempts):
        try:
            return fn()
        except Exception as exc:
            if not transient(exc):
                raise
            delay = backoff * 2 ** (attempt - 1) * (1 - 0.25 * random.random())
            logger.warning(
                "%s failed (%s: %s); retry %d/%d in %.2f s",
                what, type(exc).__name__, exc, attempt, attempts - 1, delay,
            )
            sleep(delay)
    return fn()  # the last attempt: its error reaches the caller
