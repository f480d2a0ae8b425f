"""Server-Timing for WSGI apps.

    from middleware.wsgi import TimingMiddleware

    app.wsgi_app = TimingMiddleware(app.wsgi_app, timing_allow_origin="*")

Every response gets ``Server-Timing: app;dur=<ms to response start>`` plus the metrics the app
recorded through ``middleware.timing``. ``on_complete(timings)`` runs once the server closes the
response, so ``timings.total_ms`` includes the time spent producing a streamed body.

Options: ``metric`` (the name of the app's own entry), ``header``, ``timing_allow_origin``
(``"*"``, an origin or a list of origins; no header when None), ``on_complete``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from contextvars import Token
from time import perf_counter
from typing import Any

from .. import timing
from .._callbacks import call_quietly
from ..core.timing import Metric, TimingPolicy, Timings, header_text
from ._environ import Environ, Exchange, NativeHeaders, StartResponse, check_app

__all__ = ["TimingMiddleware"]


class TimingMiddleware:
    """Add Server-Timing to every response of a WSGI app."""

    _middleware_protocol = "wsgi"

    def __init__(
        self,
        app: Any,
        *,
        metric: str = "app",
        header: str = "Server-Timing",
        timing_allow_origin: str | Iterable[str] | None = None,
        on_complete: Callable[[Timings], object] | None = None,
    ) -> None:
        self.app = check_app(app, "TimingMiddleware")
        self.policy = TimingPolicy.build(
            metric=metric,
            header=header,
            timing_allow_origin=timing_allow_origin,
            on_complete=on_complete,
        )
        self._header = header
        allow = self.policy.allow_origin
        self._allow = None if allow is None else allow.decode("latin-1")

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        exchange = _Timed(environ, start_response)
        exchange.layer = self
        exchange.metrics = exchange.app_ms = None
        exchange.token = timing.current.set(exchange)
        exchange.started_at = perf_counter()
        body = exchange.run(self.app)
        if self.policy.on_complete is None:
            produced = exchange.produced_list()
            if produced is not None:
                # Nothing of the app runs after it returned a list: end the request now.
                timing.current.reset(exchange.token)
                return produced
        inner = exchange.hand_over()
        if inner is not None:
            # Another layer's exchange already applies the crash rule through this one's
            # start_response: this layer only has to end with it.
            inner.after_close(exchange.on_close)
            return inner
        return body


class _Timed(Exchange):
    # Fields are set by TimingMiddleware.__call__: one constructor call per request, not two.
    __slots__ = ("app_ms", "layer", "metrics", "started_at", "token")
    layer: TimingMiddleware
    metrics: list[Metric] | None
    app_ms: float | None
    token: Token[timing.Recorder | None]
    started_at: float

    def on_start(self, status: str, headers: NativeHeaders) -> NativeHeaders:
        layer = self.layer
        self.app_ms = app_ms = (perf_counter() - self.started_at) * 1000.0
        value = header_text(layer.policy.metric, app_ms, self.metrics)
        # A copy: the app may reuse its header list for every response.
        if layer._allow is None:
            return [*headers, (layer._header, value)]
        return [*headers, (layer._header, value), ("Timing-Allow-Origin", layer._allow)]

    def on_close(self) -> None:
        try:
            timing.current.reset(self.token)
        except ValueError:
            # close() ran in another context than the request; nothing to restore there.
            pass
        on_complete = self.layer.policy.on_complete
        if on_complete is not None:
            total = (perf_counter() - self.started_at) * 1000.0
            app_ms = total if self.app_ms is None else self.app_ms
            call_quietly(
                on_complete,  # type: ignore[arg-type]
                Timings(total_ms=total, app_ms=app_ms, metrics=tuple(self.metrics or ())),
            )
