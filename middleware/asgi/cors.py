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
without ``root_path``), as the app's routes see it. See ``CORSLayer`` and
``middleware.core.cors``.
"""

from __future__ import annotations

from collections.abc import Awaitable

from .._layers import CORSLayer
from ..core.cors import HeaderBlock
from ..core.responses import Response
from ._scope import ASGILayer, Exchange, Message, Receive, Scope, Send, app_path, send_response

__all__ = ["CORSMiddleware"]


class CORSMiddleware(ASGILayer, CORSLayer):
    """Answer CORS preflights and add CORS headers to an ASGI app's responses."""

    def http(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        policy = self.policy
        path = "" if policy.paths is None else app_path(scope)
        answer = policy.decide_headers(scope["method"], path, scope["headers"])
        if answer is None:
            return self.app(scope, receive, send)  # type: ignore[no-any-return]
        if isinstance(answer, Response):
            return send_response(send, answer)
        exchange = _CORSExchange(scope, receive, send)
        exchange.block = answer
        return exchange.run(self.app)


class _CORSExchange(Exchange):
    # Set right after construction: no __init__ of its own saves a Python call per request.
    __slots__ = ("block",)
    block: HeaderBlock

    def on_start(self, message: Message) -> Message:
        headers = message.get("headers", ())
        if type(headers) is not list:
            headers = list(headers)
        # A copy: the app may reuse its message and header list for every response.
        message = dict(message)
        message["headers"] = self.block.apply(headers)
        return message
