"""Server-Timing for ASGI apps.

    from middleware.asgi import TimingMiddleware

    app.add_middleware(TimingMiddleware, timing_allow_origin="*")

Every HTTP response gets ``Server-Timing: app;dur=<ms to response start>`` plus the metrics the
app recorded through ``middleware.timing``. ``on_complete(timings)`` runs once after the last
body message, so ``timings.total_ms`` includes a streamed body. Other scopes pass through.

Options: ``metric`` (the name of the app's own entry), ``header``, ``timing_allow_origin``
(``"*"``, an origin or a list of origins; no header when None), ``on_complete``.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from time import perf_counter
from typing import Any

from .. import timing
from .._callbacks import call_quietly
from ..core.timing import Metric, TimingPolicy, Timings, header_value
from ._scope import Exchange, Message, Receive, Scope, Send, check_app

__all__ = ["TimingMiddleware"]


class TimingMiddleware:
    """Add Server-Timing to every HTTP response of an ASGI app."""

    _middleware_protocol = "asgi"

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

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        exchange = _Timed(send, self.policy)
        token = timing.current.set(exchange)
        try:
            await exchange.run(self.app, scope, receive)
        finally:
            timing.current.reset(token)


class _Timed(Exchange):
    __slots__ = ("app_ms", "metrics", "policy", "started_at")

    def __init__(self, send: Send, policy: TimingPolicy) -> None:
        super().__init__(send)
        self.policy = policy
        self.metrics: list[Metric] | None = None
        self.app_ms: float | None = None
        self.started_at = perf_counter()

    def on_start(self, message: Message) -> Message:
        policy = self.policy
        self.app_ms = app_ms = (perf_counter() - self.started_at) * 1000.0
        headers = list(message.get("headers", ()))
        headers.append((policy.header, header_value(policy.metric, app_ms, self.metrics)))
        if policy.allow_origin is not None:
            headers.append((b"timing-allow-origin", policy.allow_origin))
        message = dict(message)
        message["headers"] = headers
        return message

    def on_end(self) -> None:
        on_complete = self.policy.on_complete
        if on_complete is not None:
            total = (perf_counter() - self.started_at) * 1000.0
            app_ms = total if self.app_ms is None else self.app_ms
            call_quietly(
                on_complete,  # type: ignore[arg-type]
                Timings(total_ms=total, app_ms=app_ms, metrics=tuple(self.metrics or ())),
            )
