"""Request logging: one access record per request, request IDs, and lines that cannot be forged.

The adapters feed a ``RequestLog`` what the response did (status, body bytes, how it ended)
and, once the response is over and only when the access logger is enabled for INFO, ask it for
the ``AccessRecord`` and the formatted line, which they log themselves.

    policy = RequestLoggingPolicy.build(format="json", trusted_proxies=["10.0.0.0/8"])
    log = RequestLog(policy, request_id=policy.request_id(incoming), start=perf_counter())
    log.response_started(200)
    log.body_sent(512)
    record, line = log.finish(end=perf_counter(), now=time(), method="GET", path=b"/", ...)

Options (those of RequestLoggingMiddleware):

- ``logger``: a logger name or a ``logging.Logger`` (default ``"middleware.access"``).
- ``format``: ``"combined"`` (Apache's combined log format, which GoAccess, AWStats and most
  log tools read), ``"json"`` (one object per line, keyed by the record's field names) or a
  callable taking the ``AccessRecord`` and returning the line.
- ``request_id_header``: the request and response header carrying the request ID.
- ``trust_request_id``: keep a client's safe request ID instead of always making a new one.
- ``exclude_paths``: paths that write no record; an entry matches exactly, or as a prefix when
  it ends with ``/``.
- ``trusted_proxies``: the proxies allowed to report the client's address (see
  ``middleware.core.forwarded``).

Every value a client controls is escaped in both built-in formats: control characters, quotes
and backslashes can neither end a line nor fake a field.
"""

from __future__ import annotations

import json
import time
import uuid
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

from .forwarded import IPAddress, IPNetwork, TrustedProxies, client_address
from .headers import Headers, is_token
from .outcome import Outcome

__all__ = [
    "FIELDS",
    "MAX_REQUEST_ID_LENGTH",
    "AccessRecord",
    "Outcome",
    "RequestLog",
    "RequestLoggingPolicy",
    "accept_request_id",
    "escape",
    "format_combined",
    "format_json",
    "logged_headers",
    "new_request_id",
]

MAX_REQUEST_ID_LENGTH = 200

FIELDS = (
    "client",
    "method",
    "path",
    "query",
    "protocol",
    "status",
    "bytes",
    "duration_ms",
    "user_agent",
    "referer",
    "request_id",
    "outcome",
)

# Status logged when the response never started: the server answers an app that returned
# nothing with a 500; 499 is the status nginx and log tools use for "client closed request".
_UNSTARTED = {Outcome.COMPLETED: 500, Outcome.ERROR: 500, Outcome.DISCONNECTED: 499}


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessRecord:
    """One finished request, as the access log reports it.

    Values are as received (``path`` percent-encoded, header values decoded as latin-1), not
    escaped: the formatters escape them, and structured handlers receive them as LogRecord
    attributes of the same names.
    """

    client: str | None
    method: str
    path: str
    query: str
    protocol: str
    status: int
    bytes: int
    duration_ms: float
    user_agent: str | None
    referer: str | None
    request_id: str
    outcome: Outcome

    def as_dict(self) -> dict[str, Any]:
        """The fields by name, in ``FIELDS`` order (the ``extra`` of the log call)."""
        return {
            "client": self.client,
            "method": self.method,
            "path": self.path,
            "query": self.query,
            "protocol": self.protocol,
            "status": self.status,
            "bytes": self.bytes,
            "duration_ms": self.duration_ms,
            "user_agent": self.user_agent,
            "referer": self.referer,
            "request_id": self.request_id,
            "outcome": self.outcome,
        }


# Apache's ap_escape_logitem: '"' and '\' get a backslash, \b \n \r \t \v their C names, and
# every other byte that is not printable ASCII is written as \xhh. Characters past latin-1
# (only possible in values that were never header bytes) become \uXXXX through the codec.
_ESCAPES: dict[int, str] = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0x100))}
_ESCAPES.update({ord(c): "\\" + name for c, name in zip("\b\n\r\t\v", "bnrtv", strict=True)})
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\"})


def escape(value: str) -> str:
    """``value`` made safe inside a quoted field of a one-line log format (ASCII only)."""
    if value.isascii() and value.isprintable() and '"' not in value and "\\" not in value:
        return value
    return value.translate(_ESCAPES).encode("ascii", "backslashreplace").decode("ascii")


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")


def _clf_time(timestamp: float) -> str:
    # Apache %t: "[day/month/year:hour:minute:second zone]" in local time, e.g.
    # [10/Oct/2000:13:55:36 -0700]. Month names are English whatever the locale, and the zone
    # is the real offset at that instant (tm_gmtoff), half-hour zones and DST included.
    local = time.localtime(timestamp)
    offset = (local.tm_gmtoff or 0) // 60
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset), 60)
    return (
        f"{local.tm_mday:02d}/{_MONTHS[local.tm_mon - 1]}/{local.tm_year:04d}:"
        f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d} {sign}{hours:02d}{minutes:02d}"
    )


def format_combined(record: AccessRecord, received_at: float) -> str:
    """Apache's combined log format; ``received_at`` is when the request arrived (epoch seconds).

    ``%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"``: the identity and user fields
    are ``-``, ``%b`` is ``-`` for an empty body, and a missing referer or user agent is
    ``"-"``, so every line has the same number of fields.
    """
    target = record.path + "?" + record.query if record.query else record.path
    return (
        f"{escape(record.client) if record.client else '-'} - - [{_clf_time(received_at)}] "
        f'"{escape(record.method)} {escape(target)} {escape(record.protocol)}" '
        f"{record.status} {record.bytes or '-'} "
        f'"{escape(record.referer) if record.referer else "-"}" '
        f'"{escape(record.user_agent) if record.user_agent else "-"}"'
    )


# ensure_ascii escapes every control character (DEL and C1 included), quotes, backslashes and
# the line and paragraph separators, so a value can never end the line.
_JSON = json.JSONEncoder(ensure_ascii=True, check_circular=False, separators=(",", ":"))


def format_json(record: AccessRecord) -> str:
    """One JSON object on one line, keyed by ``FIELDS``; absent values are null."""
    return _JSON.encode(record.as_dict())


def new_request_id() -> str:
    """A fresh request ID: a random UUID (version 4) as 32 lower-case hex digits."""
    return uuid.uuid4().hex


def accept_request_id(
    incoming: str | None, *, trust: bool, generate: Callable[[], str] = new_request_id
) -> str:
    """The request's ID: the client's when trusted and safe, else a new one.

    Safe means 1 to 200 visible ASCII characters (0x21-0x7E): nothing that could split a log
    line or a header, and short enough to index. ``incoming`` is the header value decoded as
    latin-1 (several field lines joined by ``", "``, which the space then rejects).
    """
    if (
        trust
        and incoming
        and len(incoming) <= MAX_REQUEST_ID_LENGTH
        and incoming.isascii()
        and incoming.isprintable()
        and " " not in incoming
    ):
        return incoming
    return generate()


# The field names are the ones list-valued headers combine under (RFC 9110 §5.3).
_LOGGED = {b"user-agent": 0, b"referer": 1, b"forwarded": 2, b"x-forwarded-for": 3}


def logged_headers(
    headers: Headers,
) -> tuple[str | None, str | None, str | None, str | None]:
    """User-Agent, Referer, Forwarded and X-Forwarded-For from ``headers``, in one pass.

    Values are decoded as latin-1. The two forwarding headers are lists: their field lines are
    joined by ``", "`` (RFC 9110 §5.3). Of a repeated User-Agent or Referer the first is kept.
    """
    found: list[str | None] = [None, None, None, None]
    for name, value in headers:
        index = _LOGGED.get(name)
        if index is None:
            continue
        text = value.decode("latin-1")
        current = found[index]
        if current is None:
            found[index] = text
        elif index >= 2:
            found[index] = current + ", " + text
    return found[0], found[1], found[2], found[3]


@runtime_checkable
class LoggerLike(Protocol):
    """What the adapters need of a logger object."""

    def isEnabledFor(self, level: int) -> bool: ...

    def log(self, level: int, msg: object, *args: object, **kwargs: Any) -> None: ...


Formatter = Callable[[AccessRecord], object]

_FORMATS = ("combined", "json")


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestLoggingPolicy:
    """RequestLoggingMiddleware's options, validated once, with look-ups precomputed."""

    logger: str | LoggerLike
    format: str | Formatter
    request_id_header: str
    trust_request_id: bool
    exclude_paths: tuple[str, ...]
    trusted_proxies: TrustedProxies
    # Derived: the header name as it crosses the core boundary, and the exclusion look-ups.
    header_name: bytes
    exact_paths: frozenset[str]
    path_prefixes: tuple[str, ...]

    @classmethod
    def build(
        cls,
        *,
        logger: str | LoggerLike = "middleware.access",
        format: str | Formatter = "combined",
        request_id_header: str = "X-Request-ID",
        trust_request_id: bool = True,
        exclude_paths: Iterable[str] = (),
        trusted_proxies: Iterable[str | IPAddress | IPNetwork] = (),
    ) -> RequestLoggingPolicy:
        """Validate RequestLoggingMiddleware's options; raise TypeError/ValueError naming one."""
        if not isinstance(logger, str | LoggerLike):
            raise TypeError(f"logger must be a logger name or a logging.Logger, got {logger!r}.")
        if isinstance(format, str):
            if format not in _FORMATS:
                raise ValueError(
                    "format must be 'combined', 'json' or a callable taking the access record, "
                    f"got {format!r}."
                )
        elif not callable(format):
            raise TypeError(
                "format must be 'combined', 'json' or a callable taking the access record, "
                f"got {format!r}."
            )
        if (
            not isinstance(request_id_header, str)
            or not request_id_header.isascii()
            or not is_token(request_id_header.encode("ascii"))
        ):
            raise ValueError(
                f"request_id_header must be a header name such as 'X-Request-ID', "
                f"got {request_id_header!r}."
            )
        if not isinstance(trust_request_id, bool):
            raise TypeError(f"trust_request_id must be True or False, got {trust_request_id!r}.")
        if isinstance(exclude_paths, str | bytes) or not isinstance(exclude_paths, Iterable):
            raise TypeError(f"exclude_paths must be a list of paths, got {exclude_paths!r}.")
        paths = tuple(exclude_paths)
        for path in paths:
            if not isinstance(path, str) or not path.startswith("/"):
                raise ValueError(
                    f"exclude_paths entries must be paths starting with '/', got {path!r}."
                )
        return cls(
            logger=logger,
            format=format,
            request_id_header=request_id_header,
            trust_request_id=trust_request_id,
            exclude_paths=paths,
            trusted_proxies=TrustedProxies.build(trusted_proxies),
            header_name=request_id_header.lower().encode("ascii"),
            exact_paths=frozenset(path for path in paths if not path.endswith("/")),
            path_prefixes=tuple(path for path in paths if path.endswith("/")),
        )

    def excludes(self, path: str) -> bool:
        """Whether ``path`` (the full path, without the query) writes no record."""
        return path in self.exact_paths or path.startswith(self.path_prefixes)

    def request_id(self, incoming: str | None, generate: Callable[[], str] = new_request_id) -> str:
        """The request's ID from the incoming header value (see ``accept_request_id``)."""
        return accept_request_id(incoming, trust=self.trust_request_id, generate=generate)

    def line(self, record: AccessRecord, received_at: float) -> str:
        """``record`` in the configured format."""
        format = self.format
        if isinstance(format, str):
            if format == "combined":
                return format_combined(record, received_at)
            return format_json(record)
        return str(format(record))


# RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@". Everything else in
# the decoded path (space, "%", '"', "\", control and non-ASCII bytes) is percent-encoded
# again, so the logged path is the ASCII request target, as uvicorn and Paste log it.
_PATH_SAFE = "/!$&'()*+,;=:@"


def _target_path(path: str | bytes) -> str:
    if isinstance(path, bytes):
        return quote(path, safe=_PATH_SAFE)
    # surrogatepass encodes any str, lone surrogates included, so no path can raise here.
    return quote(path, safe=_PATH_SAFE, encoding="utf-8", errors="surrogatepass")


class RequestLog:
    """What one response did, turned into its access record at the end.

    ``response_started`` may be called more than once (a WSGI app restarting with
    ``exc_info``): the last status is the one the client got. ``body_sent`` counts body bytes
    as they leave. ``app_failed`` and ``client_gone`` set the outcome; the first of them wins,
    since an app's exception right after a disconnect is the disconnect's consequence.
    """

    __slots__ = ("body_bytes", "outcome", "policy", "request_id", "start", "status")

    def __init__(self, policy: RequestLoggingPolicy, *, request_id: str, start: float) -> None:
        self.policy = policy
        self.request_id = request_id
        self.start = start
        self.status: int | None = None
        self.body_bytes = 0
        self.outcome = Outcome.COMPLETED

    def response_started(self, status: int) -> None:
        self.status = status

    def body_sent(self, size: int) -> None:
        self.body_bytes += size

    def app_failed(self) -> None:
        if self.outcome is Outcome.COMPLETED:
            self.outcome = Outcome.ERROR

    def client_gone(self) -> None:
        if self.outcome is Outcome.COMPLETED:
            self.outcome = Outcome.DISCONNECTED

    def finish(
        self,
        *,
        end: float,
        now: float,
        method: str,
        path: str | bytes,
        query: str | bytes,
        protocol: str,
        peer: str | None,
        user_agent: str | None = None,
        referer: str | None = None,
        forwarded: str | None = None,
        x_forwarded_for: str | None = None,
    ) -> tuple[AccessRecord, str]:
        """The record and its formatted line.

        ``end`` is the monotonic time the response ended (the clock ``start`` came from),
        ``now`` the wall-clock time then, in epoch seconds. ``path`` is the percent-decoded
        path (bytes as received, or text from UTF-8), ``query`` the raw query string,
        ``protocol`` e.g. ``"HTTP/1.1"``, ``peer`` the address the server saw, and the header
        values are latin-1 text (``logged_headers`` extracts them).
        """
        policy = self.policy
        duration = end - self.start
        status = self.status
        if status is None:
            status = _UNSTARTED[self.outcome]
        record = AccessRecord(
            client=client_address(
                peer,
                trusted=policy.trusted_proxies,
                forwarded=forwarded,
                x_forwarded_for=x_forwarded_for,
            ),
            method=method,
            path=_target_path(path),
            query=query.decode("latin-1") if isinstance(query, bytes) else query,
            protocol=protocol,
            status=status,
            bytes=self.body_bytes,
            duration_ms=round(duration * 1000.0, 3),
            user_agent=user_agent,
            referer=referer,
            request_id=self.request_id,
            outcome=self.outcome,
        )
        return record, policy.line(record, now - duration)
