"""Request logging: one access record per request, request IDs, and lines that cannot be forged.

The adapters track what the response did (final status, body bytes, how it ended) and,
once the response is over and only when the access logger is enabled for INFO, ask
``log_entry`` for the record's fields and its formatted line, which they log themselves.

    policy = RequestLoggingPolicy.build(format="json", trusted_proxies=["10.0.0.0/8"])
    request_id = policy.request_id(incoming_header_value)
    fields, line = log_entry(
        policy, request_id=request_id, status=200, body_bytes=512, outcome=Outcome.COMPLETED,
        start=t0, end=t1, now=time(), method="GET", path=b"/", query=b"", ...)
    record = AccessRecord.from_fields(fields)

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

import string
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from json.encoder import encode_basestring_ascii as _json_string
from os import register_at_fork, urandom
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
    "RequestLoggingPolicy",
    "accept_request_id",
    "escape",
    "format_combined",
    "format_json",
    "log_entry",
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


# Not slotted: the fields live in the instance __dict__, which log_entry builds as one dict
# literal and the adapters copy onto the LogRecord in one step. A slotted frozen dataclass
# costs an object.__setattr__ per field on every logged request (measured: about three times
# the cost of the dict).
@dataclass(frozen=True, kw_only=True)
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
        """The fields by name, in ``FIELDS`` order (what the LogRecord carries as attributes)."""
        return dict(self.__dict__)

    @classmethod
    def from_fields(cls, fields: dict[str, Any]) -> AccessRecord:
        """A record over ``fields`` (all of ``FIELDS``, in order), which it takes over."""
        record = object.__new__(cls)
        object.__setattr__(record, "__dict__", fields)
        return record


# Apache's ap_escape_logitem: '"' and '\' get a backslash, \b \n \r \t \v their C names, and
# every other byte that is not printable ASCII is written as \xhh. Characters past latin-1
# (only possible in values that were never header bytes) become \u escapes through the codec.
_ESCAPES: dict[int, str] = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0x100))}
_ESCAPES.update({ord(c): "\\" + name for c, name in zip("\b\n\r\t\v", "bnrtv", strict=True)})
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\"})


def _is_plain(text: str) -> bool:
    return text.isascii() and text.isprintable() and '"' not in text and "\\" not in text


def escape(value: str) -> str:
    """``value`` made safe inside a quoted field of a one-line log format (ASCII only)."""
    if _is_plain(value):
        return value
    return value.translate(_ESCAPES).encode("ascii", "backslashreplace").decode("ascii")


_MONTHS = ("Jan", "Feb", "Mar", "Apr", "May", "Jun", "Jul", "Aug", "Sep", "Oct", "Nov", "Dec")

# The last stamp made: (second, time.tzname when it was made, text). Requests in the same
# second share it; a tzset() makes a new tzname tuple, so a time zone change is never stale.
_last_stamp: tuple[int, tuple[str, str], str] = (-1, ("", ""), "")


def _clf_time(timestamp: float) -> str:
    # Apache %t: "[day/month/year:hour:minute:second zone]" in local time, e.g.
    # [10/Oct/2000:13:55:36 -0700]. Month names are English whatever the locale, and the zone
    # is the real offset at that instant (tm_gmtoff), half-hour zones and DST included.
    global _last_stamp
    second = int(timestamp // 1)
    last = _last_stamp
    if last[0] == second and last[1] is time.tzname:
        return last[2]
    local = time.localtime(second)
    offset = (local.tm_gmtoff or 0) // 60
    sign = "-" if offset < 0 else "+"
    hours, minutes = divmod(abs(offset), 60)
    text = (
        f"{local.tm_mday:02d}/{_MONTHS[local.tm_mon - 1]}/{local.tm_year:04d}:"
        f"{local.tm_hour:02d}:{local.tm_min:02d}:{local.tm_sec:02d} {sign}{hours:02d}{minutes:02d}"
    )
    _last_stamp = (second, time.tzname, text)
    return text


def format_combined(record: AccessRecord, received_at: float) -> str:
    """Apache's combined log format; ``received_at`` is when the request arrived (epoch seconds).

    ``%h %l %u %t "%r" %>s %b "%{Referer}i" "%{User-agent}i"``: the identity and user fields
    are ``-``, ``%b`` is ``-`` for an empty body, and a missing referer or user agent is
    ``"-"``, so every line has the same number of fields.
    """
    r = record
    return _combined(
        r.client, r.method, r.path, r.query, r.protocol, r.status, r.bytes, r.user_agent,
        r.referer, received_at,
    )  # fmt: skip


def _combined(
    client: str | None,
    method: str,
    path: str,
    query: str,
    protocol: str,
    status: int,
    body_bytes: int,
    user_agent: str | None,
    referer: str | None,
    received_at: float,
) -> str:
    client = client or "-"
    target = path + "?" + query if query else path
    referer = referer or "-"
    user_agent = user_agent or "-"
    # One check over every value on the common path; each is escaped only when one needs it.
    if not _is_plain(client + method + target + protocol + referer + user_agent):
        client, method, target, protocol, referer, user_agent = (
            escape(client),
            escape(method),
            escape(target),
            escape(protocol),
            escape(referer),
            escape(user_agent),
        )
    return (
        f'{client} - - [{_clf_time(received_at)}] "{method} {target} {protocol}" '
        f'{status} {body_bytes or "-"} "{referer}" "{user_agent}"'
    )


def _json_or_null(value: str | None) -> str:
    return "null" if value is None else _json_string(value)


def format_json(record: AccessRecord) -> str:
    """One JSON object on one line, keyed by ``FIELDS``; absent values are null.

    Strings are written as ``json.dumps(..., ensure_ascii=True)`` writes them: every control
    character (DEL and C1 included), quote, backslash and non-ASCII character is escaped, the
    line and paragraph separators too, so a value can never end the line.
    """
    return _json(record.__dict__)


def _json(r: dict[str, Any]) -> str:
    return (
        f'{{"client":{_json_or_null(r["client"])},"method":{_json_string(r["method"])},'
        f'"path":{_json_string(r["path"])},"query":{_json_string(r["query"])},'
        f'"protocol":{_json_string(r["protocol"])},"status":{int(r["status"])},'
        f'"bytes":{int(r["bytes"])},"duration_ms":{float(r["duration_ms"])!r},'
        f'"user_agent":{_json_or_null(r["user_agent"])},"referer":{_json_or_null(r["referer"])},'
        f'"request_id":{_json_string(r["request_id"])},"outcome":{_json_string(r["outcome"])}}}'
    )


# RFC 9562 §5.4: UUIDv4 is 122 random bits with the version (0b0100) in the high nibble of
# octet 6 and the variant (0b10) in the top bits of octet 8.
_VERSION_4 = bytes((octet & 0x0F) | 0x40 for octet in range(256))
_VARIANT_10 = bytes((octet & 0x3F) | 0x80 for octet in range(256))
_BATCH = 256

# IDs made ahead in batches: one urandom call and one hex conversion serve 256 requests, and
# taking one is a list.pop(), which no two threads can share. A forked child (a gunicorn
# worker) drops its parent's unused IDs, so no two processes hand out the same one.
_ready: list[str] = []
register_at_fork(after_in_child=_ready.clear)


def _make_batch() -> list[str]:
    octets = bytearray(urandom(16 * _BATCH))
    octets[6::16] = octets[6::16].translate(_VERSION_4)
    octets[8::16] = octets[8::16].translate(_VARIANT_10)
    text = octets.hex()
    return [text[start : start + 32] for start in range(0, 32 * _BATCH, 32)]


def new_request_id() -> str:
    """A fresh request ID: a random UUID (version 4) as 32 lower-case hex digits.

    The same form as ``uuid.uuid4().hex``, from the same source (``os.urandom``).
    """
    try:
        return _ready.pop()
    except IndexError:
        _ready.extend(_make_batch())
        return new_request_id()


def accept_request_id(
    incoming: str | None, *, trust: bool, generate: Callable[[], str] = new_request_id
) -> str:
    """The request's ID: the client's when trusted and safe, else a new one.

    Safe means 1 to 200 visible ASCII characters (0x21-0x7E): nothing that could split a log
    line or a header, and short enough to index. ``incoming`` is the header value decoded as
    latin-1. Several field lines arrive as one value, joined by ``","`` (gunicorn, the ASGI
    adapter) or ``", "`` (waitress); spaces and tabs next to a comma are list syntax (RFC 9110
    §5.6.1), not part of the ID, and are dropped first: two lines ``one`` and ``two`` give the
    ID ``one,two`` whichever server joined them.
    """
    if not trust or not incoming:
        return generate()
    if "," in incoming and (" " in incoming or "\t" in incoming):
        incoming = _without_list_whitespace(incoming)
    if (
        incoming
        and len(incoming) <= MAX_REQUEST_ID_LENGTH
        and incoming.isascii()
        and incoming.isprintable()
        and " " not in incoming
    ):
        return incoming
    return generate()


def _without_list_whitespace(value: str) -> str:
    # Linear (no regular expression that could backtrack over a long run of spaces); only the
    # whitespace beside a comma goes, so "a b" stays unsafe.
    parts = value.split(",")
    inner = [part.strip(" \t") for part in parts]
    inner[0] = parts[0].rstrip(" \t")
    inner[-1] = parts[-1].lstrip(" \t")
    return ",".join(inner)


RequestHeaders = tuple[str | None, str | None, str | None, str | None, str | None]

# Where each header the log needs lands in a RequestHeaders tuple; the request-ID header,
# whose name is configured, takes index 0. Fields at these indexes are lists whose repeated
# lines combine with "," (RFC 9110 §5.3), as gunicorn joins them into the environ (waitress
# joins with ", ", which accept_request_id reads alike), so both protocols see the same value;
# of a repeated User-Agent or Referer the first is kept.
_LOGGED = {b"user-agent": 1, b"referer": 2, b"forwarded": 3, b"x-forwarded-for": 4}
_LISTS = frozenset({0, 3, 4})


def logged_headers(headers: Headers, index: dict[bytes, int] | None = None) -> RequestHeaders:
    """Request ID, User-Agent, Referer, Forwarded and X-Forwarded-For, in one pass.

    ``index`` maps lower-case names to tuple positions (``RequestLoggingPolicy.header_index``
    adds the configured request-ID header to the default map). Values are decoded as latin-1.
    """
    lookup = (index or _LOGGED).get
    found: list[str | None] = [None, None, None, None, None]
    for name, value in headers:
        position = lookup(name)
        if position is None:
            continue
        text = value.decode("latin-1")
        current = found[position]
        if current is None:
            found[position] = text
        elif position in _LISTS:
            found[position] = current + "," + text
    return found[0], found[1], found[2], found[3], found[4]


@runtime_checkable
class LoggerLike(Protocol):
    """What the adapters use of a ``logging.Logger``."""

    def isEnabledFor(self, level: int) -> bool: ...

    def makeRecord(self, *args: Any, **kwargs: Any) -> Any: ...

    def handle(self, record: Any) -> None: ...


Formatter = Callable[[AccessRecord], object]

_COMBINED = "combined"
_JSON = "json"
_FORMATS = (_COMBINED, _JSON)


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
    header_index: dict[bytes, int] = field(compare=False)
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
            # The built-in names as this module's own strings: log_entry tells them by identity.
            format=_FORMATS[_FORMATS.index(format)] if isinstance(format, str) else format,
            request_id_header=request_id_header,
            trust_request_id=trust_request_id,
            exclude_paths=paths,
            trusted_proxies=TrustedProxies.build(trusted_proxies),
            header_name=request_id_header.lower().encode("ascii"),
            header_index={**_LOGGED, request_id_header.lower().encode("ascii"): 0},
            exact_paths=frozenset(path for path in paths if not path.endswith("/")),
            path_prefixes=tuple(path for path in paths if path.endswith("/")),
        )

    def excludes(self, path: str) -> bool:
        """Whether ``path`` (the full path, without the query) writes no record."""
        return path in self.exact_paths or path.startswith(self.path_prefixes)

    def request_id(self, incoming: str | None, generate: Callable[[], str] = new_request_id) -> str:
        """The request's ID from the incoming header value (see ``accept_request_id``)."""
        return accept_request_id(incoming, trust=self.trust_request_id, generate=generate)


# RFC 3986 §3.3: pchar = unreserved / pct-encoded / sub-delims / ":" / "@". Everything else in
# the decoded path (space, "%", '"', "\\", control and non-ASCII bytes) is percent-encoded
# again, so the logged path is the ASCII request target, as uvicorn and Paste log it.
_PATH_SAFE = "/!$&'()*+,;=:@"


_PLAIN_PATH = string.ascii_letters + string.digits + "_.-~" + _PATH_SAFE
_PLAIN_PATH_BYTES = _PLAIN_PATH.encode("ascii")


def _target_path(path: str | bytes) -> str:
    # Most paths need no encoding at all: one C-speed scan says so.
    if isinstance(path, bytes):
        if not path.rstrip(_PLAIN_PATH_BYTES):
            return path.decode("ascii")
        return quote(path, safe=_PATH_SAFE)
    if not path.rstrip(_PLAIN_PATH):
        return path
    # surrogatepass encodes any str, lone surrogates included, so no path can raise here.
    return quote(path, safe=_PATH_SAFE, encoding="utf-8", errors="surrogatepass")


_NO_BASE: dict[str, Any] = {}


def log_entry(
    policy: RequestLoggingPolicy,
    request_id: str,
    status: int | None,
    body_bytes: int,
    outcome: Outcome,
    start: float,
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
    base: dict[str, Any] | None = None,
) -> tuple[dict[str, Any], str]:
    """The fields of a finished request's access record, and its line in the configured format.

    ``status`` is the status the client got (None when the response never started: logged as
    500, or 499 when the client left first), ``body_bytes`` the body bytes that left.
    ``start`` and ``end`` come from one monotonic clock; ``now`` is the wall-clock time at the
    end, in epoch seconds. ``path`` is the percent-decoded path (the bytes as received, or
    text from UTF-8), ``query`` the raw query string, ``protocol`` e.g. ``"HTTP/1.1"``,
    ``peer`` the address the server saw, and the header values are latin-1 text
    (``logged_headers`` extracts them).

    The fields come as a dict keyed by ``FIELDS`` (``AccessRecord.from_fields`` makes the
    record of it), made as a copy of ``base`` when given: the adapters pass the attributes every
    LogRecord shares and get the new record's attributes in one dict. They call this once per
    logged request, positionally: it is on the hot path.
    """
    duration = end - start
    if policy.trusted_proxies.active:
        peer = client_address(
            peer,
            trusted=policy.trusted_proxies,
            forwarded=forwarded,
            x_forwarded_for=x_forwarded_for,
        )
    target = _target_path(path)
    if type(query) is bytes:
        query = query.decode("latin-1")
    if status is None:
        status = _UNSTARTED[outcome]
    fields = {
        **(base or _NO_BASE),
        "client": peer,
        "method": method,
        "path": target,
        "query": query,
        "protocol": protocol,
        "status": status,
        "bytes": body_bytes,
        # Whole microseconds, as milliseconds: int / 1000 is the double nearest that decimal.
        "duration_ms": int(duration * 1e6 + 0.5) / 1000,
        "user_agent": user_agent,
        "referer": referer,
        "request_id": request_id,
        "outcome": outcome,
    }
    format = policy.format
    if format is _COMBINED:
        line = _combined(
            peer, method, target, query, protocol, status, body_bytes, user_agent, referer,  # type: ignore[arg-type]
            now - duration,
        )  # fmt: skip
    elif format is _JSON:
        line = _json(fields)
    else:
        record = AccessRecord.from_fields({name: fields[name] for name in FIELDS})
        line = str(format(record))  # type: ignore[operator]
    return fields, line
