"""Add your own metrics to the current request's Server-Timing header.

    from middleware import timing

    timing.record("cache", 0.4, description="hit")
    with timing.measure("db"):
        rows = run_query()

Both work from sync and async code, inside the app and while a streamed body is produced.
Outside a request (no TimingMiddleware around the caller) they do nothing. An invalid metric
name raises ValueError either way, so the mistake shows up in development.

Metrics recorded before the response starts appear in its Server-Timing header; all of them
reach ``TimingMiddleware(on_complete=...)``.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from contextvars import ContextVar
from time import perf_counter
from typing import Protocol

from .core.timing import Metric, Timings, check_name

__all__ = ["Recorder", "Timings", "measure", "record"]


class Recorder(Protocol):
    """The per-request holder of recorded metrics (the adapters' exchanges)."""

    metrics: list[Metric] | None


current: ContextVar[Recorder | None] = ContextVar("middleware.timing", default=None)


def record(name: str, duration_ms: float, description: str | None = None) -> None:
    """Add ``name;dur=duration_ms`` (and a quoted description) to the current request."""
    check_name(name)
    recorder = current.get()
    if recorder is None:
        return
    metric = (name, float(duration_ms), description)
    if recorder.metrics is None:
        recorder.metrics = [metric]
    else:
        recorder.metrics.append(metric)


@contextmanager
def measure(name: str, description: str | None = None) -> Iterator[None]:
    """Record how long the ``with`` block took, measured with a monotonic clock."""
    check_name(name)
    start = perf_counter()
    try:
        yield
    finally:
        record(name, (perf_counter() - start) * 1000.0, description)
