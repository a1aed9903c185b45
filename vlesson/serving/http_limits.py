"""The web API's limits at the HTTP layer: the key, body size, time and requests at once.

A plain ASGI middleware (not Starlette's ``BaseHTTPMiddleware``, which would break
streaming and hide a client's disconnect from the route): it checks the key first (a
keyless client never takes a slot nor has its body read), reads the body up to the
limit and within the time allowed before the app sees it, so a body without
``Content-Length`` is counted too, and it answers 503 with ``Retry-After`` when as many
requests as allowed are in flight. A body that is not UTF-8 (JSON must be) is a 400.
"""

from __future__ import annotations

import asyncio
import hashlib
import hmac
import json
import time
from collections.abc import Awaitable, Callable, Collection, MutableMapping
from typing import Any

Scope = MutableMapping[str, Any]
Message = MutableMapping[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

OPEN_PATHS = frozenset({"/health"})
"""Never held back by the concurrency limit: a busy server still says it is up."""


class HttpLimits:
    """Wrap an ASGI app: 401 on a ``guarded`` path without the key, 413 over
    ``max_body_bytes``, 408 over ``body_seconds``, 503 over ``max_concurrent``, 400 for
    a body that is not UTF-8."""

    def __init__(
        self,
        app: Any,
        *,
        max_body_bytes: int,
        max_concurrent: int,
        body_seconds: float = 30.0,
        api_key: str | None = None,
        guarded: Collection[str] = (),
        key_refused: str = "missing or wrong API key",
    ):
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.max_concurrent = max_concurrent
        self.body_seconds = body_seconds
        self._key = _digest(api_key) if api_key else None
        self.guarded = guarded
        self.key_refused = key_refused
        self.active = 0

    def _key_ok(self, scope: Scope) -> bool:
        if self._key is None or scope["path"] not in self.guarded:
            return True
        header = dict(scope.get("headers") or []).get(b"authorization", b"")
        scheme, _, given = header.decode("latin-1").partition(" ")
        return scheme.lower() == "bearer" and hmac.compare_digest(
            _digest(given.strip()), self._key
        )

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["path"] in OPEN_PATHS:
            await self.app(scope, receive, send)
            return
        if not self._key_ok(scope):  # before a slot or a byte of the body
            await _answer(
                send, 401, self.key_refused, [(b"www-authenticate", b"Bearer")]
            )
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
            try:
                body = await self._read_body(scope, receive)
            except TimeoutError:
                await _answer(
                    send,
                    408,
                    f"the request body did not arrive within {self.body_seconds:g} s, "
                    "the server's limit - send it at once",
                )
                return
            if body is None:
                await _answer(
                    send,
                    413,
                    f"the request body is over {self.max_body_bytes} bytes, the "
                    "server's limit - send fewer or shorter prompts",
                )
                return
            try:
                body.decode("utf-8")
            except UnicodeDecodeError as exc:
                await _answer(
                    send,
                    400,
                    f"the request body is not UTF-8 (byte {exc.start}): send JSON "
                    'encoded as UTF-8, e.g. {"prompt": "The capital of France is"}',
                )
                return
            await self.app(scope, _replay(body, receive), send)
        finally:
            self.active -= 1

    async def _read_body(self, scope: Scope, receive: Receive) -> bytes | None:
        """Return the whole body, or None once it is over the limit; TimeoutError
        when it takes longer than ``body_seconds``."""
        length = dict(scope.get("headers") or []).get(b"content-length")
        if (
            length is not None
            and length.isdigit()
            and int(length) > self.max_body_bytes
        ):
            return None
        chunks, size = [], 0
        deadline = time.monotonic() + self.body_seconds
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError
            try:
                message = await asyncio.wait_for(receive(), left)
            except TimeoutError:  # TimeoutError itself from Python 3.11
                raise TimeoutError from None
            if message["type"] != "http.request":  # the client left while sending
                return b"".join(chunks)
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body_bytes:
                return None
            chunks.append(chunk)
            if not message.get("more_body", False):
                return b"".join(chunks)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()


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
