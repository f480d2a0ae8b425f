"""CORS for ASGI apps (Starlette, FastAPI, Django's ASGI handler, any ASGI 3 callable).

    from middleware.asgi import CORSMiddleware

    app.add_middleware(
        CORSMiddleware, allow_origins=["https://app.example"], allow_methods=["GET", "POST"]
    )

A drop-in for Starlette's ``CORSMiddleware`` (same options, positions and defaults). Preflights
(``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) are answered here without
calling the app: 200 "OK" with the allow headers, or 400 naming what was refused. Other HTTP
requests go to the app and its response start gets ``Access-Control-Allow-Origin`` (and
friends) for an allowed origin and ``Vary: Origin`` unless every origin is answered with a
literal ``*``; an app crash becomes a plain 500 that keeps them, then the exception propagates.
Lifespan and websocket scopes pass through untouched.

``paths`` is a regex matched with ``re.match`` against the path inside the app (``path``
without ``root_path``), as the app's routes see it. See ``middleware.core.cors``.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Awaitable, Iterable
from typing import Any

from ..core.cors import CORSPolicy, Preflight
from ._scope import Message, Receive, Scope, Send, check_app, send_crash, store_failure

__all__ = ["CORSMiddleware"]

logger = logging.getLogger("middleware.cors")


class CORSMiddleware:
    """Answer CORS preflights and add CORS headers to an ASGI app's responses."""

    _middleware_protocol = "asgi"

    def __init__(
        self,
        app: Any,
        allow_origins: Iterable[str] = (),
        allow_methods: Iterable[str] = ("GET",),
        allow_headers: Iterable[str] = (),
        allow_credentials: bool = False,
        allow_origin_regex: str | re.Pattern[str] | None = None,
        allow_private_network: bool = False,
        expose_headers: Iterable[str] = (),
        max_age: int = 600,
        *,
        paths: str | re.Pattern[str] | None = None,
    ) -> None:
        self.app = check_app(app, "CORSMiddleware")
        self.policy = CORSPolicy.from_options(
            allow_origins,
            allow_methods,
            allow_headers,
            allow_credentials,
            allow_origin_regex,
            allow_private_network,
            expose_headers,
            max_age,
            paths=paths,
        )
        for warning in self.policy.warnings:
            logger.warning(warning)

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policy
        path = "" if policy.paths is None else _path(scope)
        block = policy.decide_headers(scope["method"], path, scope["headers"])
        if block is None:
            await self.app(scope, receive, send)
            return
        if type(block) is Preflight:
            await send(
                {
                    "type": "http.response.start",
                    "status": block.status,
                    "headers": list(block.headers),
                }
            )
            await send({"type": "http.response.body", "body": block.body, "more_body": False})
            return
        started = False

        # A plain function returning the server's awaitable: no coroutine of this layer's own
        # per message.
        def send_cors(message: Message) -> Awaitable[None]:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
                headers = message.get("headers", ())
                if type(headers) is not list:
                    headers = list(headers)
                # A copy: the app may reuse its message and header list for every response.
                message = dict(message)
                message["headers"] = block.apply(headers)
            return send(message)

        try:
            await self.app(scope, receive, send_cors)
        except Exception as exc:
            # SPEC "Crashes keep their headers": a plain 500 through this layer, so it carries
            # the CORS headers (and outer layers add theirs), then the exception goes on to the
            # server unchanged.
            if not started and not store_failure(scope, exc):
                await send_crash(send_cors)
            raise


def _path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :]
    return path
