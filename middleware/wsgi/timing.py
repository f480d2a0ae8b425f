"""Server-Timing for WSGI apps.

    from middleware.wsgi import TimingMiddleware

    app.wsgi_app = TimingMiddleware(app.wsgi_app, timing_allow_origin="*")

Every response gets ``Server-Timing: app;dur=<ms to response start>`` plus the metrics the app
recorded through ``middleware.timing``. ``on_complete(timings)`` runs once the server closes the
response, so ``timings.total_ms`` includes the time spent producing a streamed body.
Options: see ``TimingLayer`` (the same on both protocols).
"""

from __future__ import annotations

from collections.abc import Iterable
from contextvars import Token
from time import perf_counter

from .. import timing
from .._callbacks import call_quietly
from .._layers import TimingLayer
from ..core.timing import RequestTiming
from ._environ import Exchange, WSGILayer, added
from ._types import Environ, NativeHeaders, StartResponse

__all__ = ["TimingMiddleware"]


class TimingMiddleware(WSGILayer, TimingLayer):
    """Add Server-Timing to every response of a WSGI app."""

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        exchange = _Timed(environ, start_response)
        exchange.request = request = self.policy.begin(perf_counter())
        exchange.token = timing.current.set(request)
        body = exchange.run(self.app)
        if self.policy.on_complete is None:
            # Nothing to do after the body: a list body (fully produced) goes to the server as
            # it is, with no generator of this layer around it.
            produced = exchange.produced_list()
            if produced is not None:
                timing.current.reset(exchange.token)
                return produced
        inner = exchange.hand_over()
        if inner is None:
            return body
        # Another layer's exchange answers a crash through this one's start_response already:
        # this layer only ends with it (one generator less per request and chunk).
        inner.after_close(exchange.on_close)
        return inner


class _Timed(Exchange):
    # Set by TimingMiddleware right after construction: no __init__ of its own saves a Python
    # call per request.
    __slots__ = ("request", "token")
    request: RequestTiming
    token: Token[timing.Recorder | None]

    def on_start(self, status: str, headers: NativeHeaders) -> NativeHeaders:
        return [*headers, *added(self.request.start(perf_counter()))]

    def on_close(self) -> None:
        try:
            timing.current.reset(self.token)
        except ValueError:
            # close() ran in another context than the request; nothing to restore there.
            pass
        on_complete = self.request.policy.on_complete
        if on_complete is not None:
            call_quietly(on_complete, self.request.end(perf_counter()))
