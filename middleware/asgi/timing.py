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

from collections.abc import Awaitable, Callable, Iterable
from time import perf_counter
from typing import Any

from .. import timing
from .._callbacks import call_quietly
from ..core.timing import Metric, TimingPolicy, Timings
from ._scope import Message, Receive, Scope, Send, check_app, send_crash, store_failure

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
        # The hot path: one recorder (also the context variable's value) and one closure.
        policy = self.policy
        recorder = _Recorder()
        recorder.metrics = recorder.app_ms = None
        recorder.started_at = perf_counter()
        token = timing.current.set(recorder)

        # A plain function returning the server's awaitable: a message costs no coroutine of
        # this layer's own (only the last one does, when on_complete must follow it).
        def timed_send(message: Message) -> Awaitable[None]:
            kind = message["type"]
            if kind == "http.response.start":
                recorder.app_ms = app_ms = (perf_counter() - recorder.started_at) * 1000.0
                headers = [
                    *message.get("headers", ()),
                    (policy.header, policy.render(app_ms, recorder.metrics)),
                ]
                if policy.allow_origin is not None:
                    headers.append((b"timing-allow-origin", policy.allow_origin))
                message = dict(message)
                message["headers"] = headers
                recorder.trailers = message.get("trailers", False)
            elif policy.on_complete is not None and recorder.ends_with(kind, message):
                return _send_then_complete(send, message, recorder, policy)
            return send(message)

        try:
            await self.app(scope, receive, timed_send)
        except Exception as exc:
            if recorder.app_ms is None and not store_failure(scope, exc):
                await send_crash(timed_send)
            raise
        finally:
            timing.current.reset(token)
            if policy.on_complete is not None:
                recorder.complete(policy)


async def _send_then_complete(
    send: Send, message: Message, recorder: _Recorder, policy: TimingPolicy
) -> None:
    await send(message)
    recorder.complete(policy)


class _Recorder:
    # No __init__: the fields are set inline by the middleware, saving a call per request.
    __slots__ = ("app_ms", "done", "metrics", "started_at", "trailers")
    metrics: list[Metric] | None
    app_ms: float | None
    started_at: float
    trailers: bool

    def ends_with(self, kind: str, message: Message) -> bool:
        if kind == "http.response.body":
            return not message.get("more_body", False) and not self.trailers
        if kind == "http.response.trailers":
            return not message.get("more_trailers", False)
        return kind == "http.response.pathsend"

    def complete(self, policy: TimingPolicy) -> None:
        if getattr(self, "done", False):
            return
        self.done = True
        total = (perf_counter() - self.started_at) * 1000.0
        app_ms = total if self.app_ms is None else self.app_ms
        call_quietly(
            policy.on_complete,  # type: ignore[arg-type]
            Timings(total_ms=total, app_ms=app_ms, metrics=tuple(self.metrics or ())),
        )
