"""Server-Timing: metric names, entries and the header value (W3C Server Timing).

    >>> entry("db", 12.5, 'users "active"')
    'db;dur=12.5;desc="users \\\\"active\\\\""'
    >>> header_value("app", 3.0, [("db", 1.25, None)])
    b'app;dur=3, db;dur=1.25'

The adapters measure with a monotonic clock and hand the durations here; nothing in this module
reads a clock.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass

from .headers import Headers, is_token

Metric = tuple[str, float, str | None]

_checked: set[str] = set()


@dataclass(frozen=True, slots=True, kw_only=True)
class Timings:
    """What ``on_complete`` receives once the response body has been sent.

    ``app_ms`` runs from the request to the response start, ``total_ms`` until the last body
    byte; ``metrics`` are the ``(name, duration_ms, description)`` entries the request
    recorded through ``middleware.timing``.
    """

    total_ms: float
    app_ms: float
    metrics: tuple[Metric, ...]


def check_name(name: str) -> str:
    """Return ``name`` if it is a valid metric name, else raise ValueError.

    Server Timing: ``server-timing-metric = metric-name *( OWS ";" OWS server-timing-param )``
    with ``metric-name = token`` (RFC 9110 §5.6.2).
    """
    if name in _checked:
        return name
    if not isinstance(name, str) or not name.isascii() or not is_token(name.encode()):
        raise ValueError(f"A Server-Timing metric name must be an RFC 9110 token, got {name!r}.")
    if len(_checked) < 4096:
        _checked.add(name)
    return name


def _duration(ms: float) -> str:
    # Three decimals is microsecond resolution, more than a wall clock can promise.
    return f"{ms:.3f}"


def _quoted(text: str) -> str:
    # RFC 9110 §5.6.4: quoted-string allows HTAB, SP, visible ASCII and obs-text, with "\" and
    # DQUOTE escaped. Anything else (control characters, non-latin-1) becomes "?", so an
    # app's description can never break the header. HTAB becomes a space: PEP 3333's
    # reference validator (wsgiref.validate) refuses any control character in a header value.
    out = []
    for char in text:
        code = ord(char)
        if char in '"\\':
            out.append("\\" + char)
        elif 0x20 <= code <= 0x7E or 0x80 <= code <= 0xFF:
            out.append(char)
        elif code == 0x09:
            out.append(" ")
        else:
            out.append("?")
    return '"' + "".join(out) + '"'


def entry(name: str, duration_ms: float, description: str | None = None) -> str:
    """One Server-Timing entry: ``name;dur=1.5`` or ``name;dur=1.5;desc="..."``."""
    text = f"{name};dur={_duration(duration_ms)}"
    if description is not None:
        text += f";desc={_quoted(str(description))}"
    return text


def header_text(metric: str, app_ms: float, metrics: Iterable[Metric] | None) -> str:
    """The Server-Timing value: the app's own metric first, then the recorded ones."""
    if not metrics:
        return f"{metric};dur={app_ms:.3f}"
    return ", ".join([f"{metric};dur={_duration(app_ms)}", *(entry(*item) for item in metrics)])


def header_value(metric: str, app_ms: float, metrics: Iterable[Metric] | None) -> bytes:
    """``header_text`` as the bytes a raw header list carries."""
    return header_text(metric, app_ms, metrics).encode("latin-1")


@dataclass(frozen=True, slots=True, kw_only=True)
class TimingPolicy:
    """TimingMiddleware's options, validated once, with the header name prebuilt."""

    metric: str
    header: bytes
    allow_origin: bytes | None
    on_complete: Callable[[Timings], object] | None

    def begin(self, now: float) -> RequestTiming:
        """One request's timing, started at ``now`` (seconds on the adapter's clock)."""
        # Positional: a class called with keywords builds a dict of them, on every request.
        return RequestTiming(self, now)

    @classmethod
    def build(
        cls,
        *,
        metric: str,
        header: str,
        timing_allow_origin: str | Iterable[str] | None,
        on_complete: object | None,
    ) -> TimingPolicy:
        """Validate TimingMiddleware's options; raise TypeError/ValueError naming the bad one."""
        if not isinstance(metric, str):
            raise TypeError(f"metric must be a string, got {metric!r}.")
        check_name(metric)
        if not isinstance(header, str) or not is_token(header.encode("latin-1", "replace")):
            raise ValueError(f"header must be a header name, got {header!r}.")
        if on_complete is not None and not callable(on_complete):
            raise TypeError(f"on_complete must be callable, got {on_complete!r}.")
        return cls(
            metric=metric,
            header=header.lower().encode("latin-1"),
            allow_origin=_allow_origin(timing_allow_origin),
            on_complete=on_complete,
        )


def _allow_origin(value: str | Iterable[str] | None) -> bytes | None:
    if value is None:
        return None
    origins = [value] if isinstance(value, str) else list(value)
    if not origins or not all(
        isinstance(o, str) and o.isascii() and o.isprintable() and o for o in origins
    ):
        raise ValueError(
            f"timing_allow_origin must be '*', an origin or a list of origins, got {value!r}."
        )
    return ", ".join(origins).encode("ascii")


@dataclass(slots=True)
class RequestTiming:
    """One request's timing, from the request to the end of its body.

    It is also where ``middleware.timing.record`` appends the app's metrics (the adapter
    makes it the context variable's value). Times are seconds on the adapter's clock.
    """

    policy: TimingPolicy
    started_at: float
    metrics: list[Metric] | None = None
    app_ms: float | None = None

    def start(self, now: float) -> Headers:
        """The response is starting at ``now``: the fields to add to its headers
        (Server-Timing, and Timing-Allow-Origin when configured)."""
        self.app_ms = app_ms = (now - self.started_at) * 1000.0
        policy = self.policy
        value = header_text(policy.metric, app_ms, self.metrics).encode("latin-1")
        if policy.allow_origin is None:
            return [(policy.header, value)]
        return [(policy.header, value), (b"timing-allow-origin", policy.allow_origin)]

    def end(self, now: float) -> Timings:
        """What ``on_complete`` receives: the total includes the body."""
        total = (now - self.started_at) * 1000.0
        app_ms = total if self.app_ms is None else self.app_ms
        return Timings(total_ms=total, app_ms=app_ms, metrics=tuple(self.metrics or ()))
