"""The class server's key on every route but ``/health``.

vLLM's own key check (``VLLM_API_KEY``) guards only paths under ``/v1``, ``/v2``,
``/inference`` and ``/cohere``: ``POST /invocations`` generates without it, and
``/tokenize``, ``/detokenize`` and ``/metrics`` are open too. ``vlesson
classroom-server`` therefore hands vLLM's server this ASGI middleware
(``--middleware vlesson.serving.classroom_key.RequireKey``); it reads the same key from
the environment and answers 401 on every other path without it. Only starlette is
imported here: vLLM's server imports this module while it starts.
"""

from __future__ import annotations

import hashlib
import hmac
import os

from starlette.datastructures import Headers
from starlette.responses import JSONResponse
from starlette.types import ASGIApp, Receive, Scope, Send

VLLM_API_KEY = "VLLM_API_KEY"
"""Where vLLM's OpenAI-compatible server reads its key; this middleware reads it too."""
IMPORT_PATH = "vlesson.serving.classroom_key.RequireKey"
"""What ``--middleware`` names."""
OPEN_PATHS = frozenset({"/health"})
"""Answered without the key: a load balancer's or ``wait_ready``'s health check."""


class RequireKey:
    """Answer 401 to any request without ``Authorization: Bearer KEY``, but
    ``GET``/``HEAD /health``; with no key in the environment, let everything through
    (a server run open on purpose, ``--no-api-key`` or loopback)."""

    def __init__(self, app: ASGIApp, key: str | None = None) -> None:
        self.app = app
        key = os.environ.get(VLLM_API_KEY, "") if key is None else key
        self._digest = _digest(key) if key else None

    def allowed(self, scope: Scope) -> bool:
        """Whether this request may pass: the key matches, or the path is open."""
        path = scope["path"].removeprefix(scope.get("root_path", "") or "")
        if path in OPEN_PATHS and scope.get("method", "GET") in ("GET", "HEAD"):
            return True
        scheme, _, given = Headers(scope=scope).get("authorization", "").partition(" ")
        if scheme.lower() != "bearer":
            return False
        # Constant time: compare digests of equal length, whatever was sent.
        return hmac.compare_digest(_digest(given.strip()), self._digest)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            self._digest is None
            or scope["type"] not in ("http", "websocket")
            or self.allowed(scope)
        ):
            await self.app(scope, receive, send)
        elif scope["type"] == "websocket":
            await send({"type": "websocket.close", "code": 1008})
        else:
            response = JSONResponse(
                {"error": "Unauthorized: send 'Authorization: Bearer KEY'"},
                status_code=401,
                headers={"WWW-Authenticate": "Bearer"},
            )
            await response(scope, receive, send)


def _digest(key: str) -> bytes:
    return hashlib.sha256(key.encode("utf-8", "surrogatepass")).digest()
