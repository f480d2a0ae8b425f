"""Server-Timing for ASGI apps.

    from middleware.asgi import TimingMiddleware

    app.add_middleware(TimingMiddleware, timing_allow_origin="*")

Every HTTP response gets ``Server-Timing: app;dur=<ms to response start>`` plus the metrics the
app recorded through ``middleware.timing``. ``on_complete(timings)`` runs once after the last
body message, so ``timings.total_ms`` includes a streamed body. Other scopes pass through.
Options: see ``TimingLayer`` (the same on both protocols).
"""

from __future__ import annotations

from collections.abc import Awaitable
from contextvars import Token
from time import perf_counter

from .. import timing
from .._callbacks import call_quietly
from .._layers import TimingLayer
from ..core.timing import RequestTiming
from ._scope import ASGILayer, Exchange, response_part
from ._types import Message, Receive, Scope, Send

__all__ = ["TimingMiddleware"]


class TimingMiddleware(ASGILayer, TimingLayer):
    """Add Server-Timing to every HTTP response of an ASGI app."""

    def http(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None] | Exchange:
        # on_complete must run after the last message: only then does each send need a look.
        exchange = (_Timed if self.policy.on_complete is None else _Completing)(
            scope, receive, send
        )
        exchange.request = request = self.policy.begin(perf_counter())
        # Reset in on_end, which runs in the same task once the app has returned or raised.
        exchange.token = timing.current.set(request)
        return exchange


class _Timed(Exchange):
    # Set by TimingMiddleware right after construction: no __init__ of its own saves a Python
    # call per request.
    __slots__ = ("request", "token")
    request: RequestTiming
    token: Token[timing.Recorder | None]

    def on_start(self, message: Message) -> Message:
        fields = self.request.start(perf_counter())
        # dict() then one store: a third cheaper than {**message, "headers": ...} (callgrind).
        message = dict(message)
        message["headers"] = [*message.get("headers", ()), *fields]
        return message

    def on_end(self) -> None:
        timing.current.reset(self.token)


class _Completing(_Timed):
    """A _Timed exchange that calls ``on_complete`` once the body has been sent."""

    __slots__ = ("done", "trailers")

    def __init__(self, scope: Scope, receive: Receive, send: Send) -> None:
        super().__init__(scope, receive, send)
        self.trailers = False
        self.done = False

    def on_start(self, message: Message) -> Message:
        self.trailers = message.get("trailers", False)
        return super().on_start(message)

    def send(self, message: Message) -> Awaitable[None]:
        if message["type"] != "http.response.start" and response_part(message, self.trailers)[1]:
            return self._send_then_complete(message)
        return super().send(message)

    async def _send_then_complete(self, message: Message) -> None:
        await super().send(message)
        self._complete()

    def on_end(self) -> None:
        super().on_end()
        self._complete()

    def _complete(self) -> None:
        on_complete = self.request.policy.on_complete
        if on_complete is not None and not self.done:
            self.done = True
            call_quietly(on_complete, self.request.end(perf_counter()))
