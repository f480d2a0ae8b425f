"""CORS for ASGI apps (Starlette, FastAPI, Django's ASGI handler, any ASGI 3 callable).

    from middleware.asgi import CORSMiddleware

    app.add_middleware(
        CORSMiddleware, allow_origins=["https://app.example"], allow_methods=["GET", "POST"]
    )

A drop-in for Starlette's ``CORSMiddleware`` (same options, positions and defaults). Preflights
(``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``) are answered here without
calling the app: 200 "OK" with the allow headers, or 400 naming what was refused. Other HTTP
requests go to the app and its response start gets ``Access-Control-Allow-Origin`` (and
friends) for an allowed origin, and ``Vary: Origin`` in every case; an app crash becomes a
plain 500 that keeps them, then the exception propagates. Lifespan scopes pass through
untouched.

Websocket handshakes are guarded against Cross-Site WebSocket Hijacking
(``websocket_origins=True``): one whose ``Origin`` is present and not allowed by the same
rules is refused before the app runs, with a 403 through the ``websocket.http.response``
extension where the server offers it, else ``websocket.close`` (code 1008) before accepting,
and an INFO line on the ``middleware.cors`` logger. No Origin (a client that is not a browser)
passes; ``websocket_origins=False`` passes every handshake through, as Starlette does.

``paths`` is a regex matched with ``re.match`` against the path inside the app (``path``
without ``root_path``), as the app's routes see it; it scopes the websocket guard too. See
``CORSLayer`` and ``middleware.core.cors``.
"""

from __future__ import annotations

from collections.abc import Awaitable

from .._layers import CORSLayer, cors_logger
from ..core.cors import HeaderBlock
from ..core.responses import Response
from ._scope import ASGILayer, Exchange, app_path, refuse_handshake, send_response
from ._types import Message, Receive, Scope, Send

__all__ = ["CORSMiddleware"]


class CORSMiddleware(ASGILayer, CORSLayer):
    """Answer CORS preflights, add CORS headers to an ASGI app's responses and refuse
    websocket handshakes from origins the policy does not allow."""

    def http(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None] | Exchange:
        policy = self.policy
        path = "" if policy.paths is None else app_path(scope)
        answer = policy.decide_headers(scope["method"], path, scope["headers"])
        if answer is None:
            return self.app(scope, receive, send)  # type: ignore[no-any-return]
        if isinstance(answer, Response):
            return send_response(send, answer)
        exchange = _CORSExchange(scope, receive, send)
        exchange.block = answer
        return exchange

    def websocket(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        """One websocket handshake: through to the app untouched, or refused before it."""
        if not self.policy.websocket_origins:
            return self.app(scope, receive, send)  # type: ignore[no-any-return]
        return self._handshake(scope, receive, send)

    async def _handshake(self, scope: Scope, receive: Receive, send: Send) -> None:
        refusal = self.policy.websocket(app_path(scope), scope.get("headers") or [])
        if refusal is None:
            await self.app(scope, receive, send)
            return
        cors_logger.info(refusal.message)
        await refuse_handshake(
            scope, receive, send, refusal.response, close_code=refusal.close_code
        )


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
