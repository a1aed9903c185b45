"""The web API's limits at the HTTP layer: body size and requests at once.

A plain ASGI middleware (not Starlette's ``BaseHTTPMiddleware``, which would break
streaming and hide a client's disconnect from the route): it reads the body up to the
limit before the app sees it, so a body without ``Content-Length`` is counted too, and
it answers 503 with ``Retry-After`` when as many requests as allowed are in flight.
"""

from __future__ import annotations

import json
from collections.abc import Awaitable, Callable, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

OPEN_PATHS = frozenset({"/health"})
"""Never held back by the concurrency limit: a busy server still says it is up."""


class HttpLimits:
    """Wrap an ASGI app: 413 over ``max_body_bytes``, 503 over ``max_concurrent``."""

    def __init__(self, app: Any, *, max_body_bytes: int, max_concurrent: int):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_concurrent = max_concurrent
        self.active = 0

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if self.active >= self.max_concurrent:
            await _answer(
                send,
                503,
                f"the server is handling {self.max_concurrent} requests at once, its "
                "limit - retry in a moment",
                [(b"retry-after", b"1")],
            )
            return
        self.active += 1
        try:
            body = await self._read_body(scope, receive)
            if body is None:
                await _answer(
                    send,
                    413,
                    f"the request body is over {self.max_body_bytes} bytes, the "
                    "server's limit - send fewer or shorter prompts",
                )
                return
            await self.app(scope, _replay(body, receive), send)
        finally:
            self.active -= 1

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """Return the whole body, or None once it is over the limit."""
        length = dict(scope.get("headers") or []).get(b"content-length")
        if (
            length is not None
            and length.isdigit()
            and int(length) > self.max_body_bytes
        ):
            return None
        chunks, size = [], 0
        while True:
            message = await receive()
            if message["type"] != "http.request":  # the client left while sending
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _replay(body: bytes, receive: Receive) -> Receive:
    """The body once, then the client's own messages (its disconnect)."""
    sent = False

    async def replay() -> Message:
        nonlocal sent
        if not sent:
            sent = True
            return {"type": "http.request", "body": body, "more_body": False}
        return await receive()

    return replay


async def _answer(
    send: Send, status: int, detail: str, headers: list[tuple[bytes, bytes]] = ()
) -> None:
    payload = json.dumps({"detail": detail}).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", b"application/json"),
                (b"content-length", str(len(payload)).encode()),
                *headers,
            ],
        }
    )
    await send({"type": "http.response.body", "body": payload})
