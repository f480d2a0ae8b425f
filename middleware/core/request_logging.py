"""Request logging: one access record per request, request IDs, and lines that cannot be forged.

The policy answers each request with a ``RequestLog``. The adapter tells it what the response
did (its status, the bytes the server took, how and when it ended) and, once the app is done,
asks it for the record and its line in the configured format. The adapter measures (its clock),
writes the line (its logger) and follows its protocol's messages; what the record says is
decided here.

    policy = RequestLoggingPolicy.build(format="json", trusted_proxies=["10.0.0.0/8"])
    log = policy.begin(method="GET", path="/items", query=b"page=2", protocol="HTTP/1.1",
                       headers=request_headers, peer="10.0.0.7", now=perf_counter())
    headers = log.start(200, response_headers)   # the request ID set on the response
    log.sent += 512                               # body bytes the server took
    log.ended(Outcome.COMPLETED, perf_counter())  # the last piece left
    entry = log.end(now=perf_counter(), wall=time())
    if entry is not None:                         # None: an excluded path
        fields, line = entry                      # the record's fields by name, and its line
        logger.info(line, extra=fields)

A websocket connection (ASGI) is one record the same way: ``begin(method="GET",
protocol=WEBSOCKET, ...)``, ``start(101, accept_headers)`` when it is accepted (or the
refusal's status), ``sent`` the bytes of the messages sent to the client (text as UTF-8), and
``ended(outcome, now, close_code=websocket_close_code(code))`` at the first close, from either
side. In its record:

- ``duration_ms`` runs from the handshake to that close.
- ``status`` is 500 when the app returned or raised without answering the handshake (servers
  then send a 500), 499 when the client left first.
- ``outcome`` is ``"completed"`` when the app ended the connection (its close, its refusal, or
  returning), ``"disconnected"`` when the client did (the close code says how: 1000 or 1001 a
  clean close, 1005 or 1006 none or a lost connection, as the server reports it), ``"error"``
  when the app raised, unless the client had left first.
- ``close_code`` is None when neither side closed before the app returned (an app error after
  the accept, an HTTP refusal), and on every HTTP record.
- ``combined`` keeps Apache's format: the request line is the handshake's (``"GET /chat
  HTTP/1.1" 101``) and the close code is not in it; ``json`` and the LogRecord's attributes
  carry it.

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
import string
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from os import register_at_fork, urandom
from typing import Any, Protocol, runtime_checkable
from urllib.parse import quote

from .forwarded import IPAddress, IPNetwork, TrustedProxies, client_address
from .headers import Headers, is_token
from .outcome import Outcome

__all__ = [
    "FIELDS",
    "MAX_REQUEST_ID_LENGTH",
    "WEBSOCKET",
    "AccessRecord",
    "Entry",
    "Fields",
    "Outcome",
    "RequestLog",
    "RequestLoggingPolicy",
    "accept_request_id",
    "escape",
    "format_combined",
    "format_json",
    "new_request_id",
    "websocket_close_code",
]

MAX_REQUEST_ID_LENGTH = 200

#: The ``protocol`` of a websocket connection's record (SPEC, WebSocket).
WEBSOCKET = "websocket"

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
    "close_code",
)


@dataclass(frozen=True, slots=True, kw_only=True)
class AccessRecord:
    """One finished request, as the access log reports it.

    Values are as received (``path`` percent-encoded, header values decoded as latin-1), not
    escaped: the formatters escape them, and structured handlers receive them as LogRecord
    attributes of the same names. ``close_code`` is a websocket connection's (see
    ``websocket_close_code``); None on every HTTP record.
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
    close_code: int | None = None

    def as_dict(self) -> dict[str, Any]:
        """The fields by name, in ``FIELDS`` order (what the LogRecord carries as attributes)."""
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
            "close_code": self.close_code,
        }


#: An access record's fields by name, in ``FIELDS`` order: what the LogRecord carries as
#: attributes, and what ``AccessRecord(**fields)`` is made of for a callable format. A finished
#: request gives this dict rather than the record: the LogRecord needs the dict anyway, and a
#: frozen dataclass of twelve fields costs about 0.8 µs more to make, on every request.
Fields = dict[str, Any]
#: What a finished request writes: its record's fields, and its line in the configured format.
Entry = tuple[Fields, str]


# Apache's ap_escape_logitem: '"' and '\' get a backslash, \b \n \r \t \v their C names, and
# every other byte that is not printable ASCII is written as \xhh. Characters past latin-1
# (only possible in values that were never header bytes) become \u escapes through the codec.
_ESCAPES: dict[int, str] = {code: f"\\x{code:02x}" for code in (*range(0x20), *range(0x7F, 0x100))}
_ESCAPES.update({ord(c): "\\" + name for c, name in zip("\b\n\r\t\v", "bnrtv", strict=True)})
_ESCAPES.update({ord('"'): '\\"', ord("\\"): "\\\\"})


def _is_plain(text: str) -> bool:
    """Printable ASCII without quote or backslash: the same inside a quoted field of either
    format as it is, so it needs no escaping."""
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
    return _combined(record.as_dict(), received_at)


def format_json(record: AccessRecord) -> str:
    """One JSON object on one line, keyed by ``FIELDS``; absent values are null.

    Strings are written as ``json.dumps(..., ensure_ascii=True)`` writes them: every control
    character (DEL and C1 included), quote, backslash and non-ASCII character is escaped, the
    line and paragraph separators too, so a value can never end the line.
    """
    return _json(record.as_dict())


def _combined(fields: Fields, received_at: float) -> str:
    client = fields["client"] or "-"
    method, protocol = fields["method"], fields["protocol"]
    if protocol == WEBSOCKET:
        # RFC 6455 §4.1: "The method of the request MUST be GET, and the HTTP version MUST be
        # at least 1.1." Apache logs an upgrade with the request line that came, and log tools
        # read only an HTTP version there (GoAccess drops the whole request otherwise).
        protocol = "HTTP/1.1"
    path, query = fields["path"], fields["query"]
    target = path + "?" + query if query else path
    referer = fields["referer"] or "-"
    user_agent = fields["user_agent"] or "-"
    # One check over every value on the common path; each is escaped only when one needs it.
    if not _is_plain(f"{client}{method}{target}{protocol}{referer}{user_agent}"):
        client, method, target = escape(client), escape(method), escape(target)
        protocol, referer, user_agent = escape(protocol), escape(referer), escape(user_agent)
    return (
        f'{client} - - [{_clf_time(received_at)}] "{method} {target} {protocol}" '
        f'{fields["status"]} {fields["bytes"] or "-"} "{referer}" "{user_agent}"'
    )


_JSON = json.JSONEncoder(ensure_ascii=True, separators=(",", ":"))


def _json(fields: Fields) -> str:
    client, method, path = fields["client"], fields["method"], fields["path"]
    query, protocol, user_agent = fields["query"], fields["protocol"], fields["user_agent"]
    referer, request_id, outcome = fields["referer"], fields["request_id"], fields["outcome"]
    close_code = fields["close_code"]
    # Every text value checked at once (None reads "None", plain too). Plain values are written
    # as json.dumps writes them, in one f-string, for about half its cost.
    texts = f"{client}{method}{path}{query}{protocol}{user_agent}{referer}{request_id}{outcome}"
    if not _is_plain(texts) or not (close_code is None or type(close_code) is int):
        return _JSON.encode(fields)
    client = "null" if client is None else f'"{client}"'
    user_agent = "null" if user_agent is None else f'"{user_agent}"'
    referer = "null" if referer is None else f'"{referer}"'
    close_code = "null" if close_code is None else close_code
    return (
        f'{{"client":{client},"method":"{method}","path":"{path}","query":"{query}",'
        f'"protocol":"{protocol}","status":{fields["status"]},"bytes":{fields["bytes"]},'
        f'"duration_ms":{fields["duration_ms"]!r},"user_agent":{user_agent},"referer":{referer},'
        f'"request_id":"{request_id}","outcome":"{outcome}","close_code":{close_code}}}'
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


@runtime_checkable
class LoggerLike(Protocol):
    """What the adapters use of a ``logging.Logger``."""

    def isEnabledFor(self, level: int) -> bool: ...

    def makeRecord(self, *args: Any, **kwargs: Any) -> Any: ...

    def handle(self, record: Any) -> None: ...


Formatter = Callable[[AccessRecord], object]

_FORMAT_CHOICES = "format must be 'combined', 'json' or a callable taking the access record"

# Request fields the record reads besides the ID. Repeated lines of a list-valued field are
# combined with "," (RFC 9110 §5.3), as gunicorn joins them into the environ (waitress joins
# with ", ", which accept_request_id reads alike), so both protocols see the same value; of a
# repeated User-Agent or Referer the first is kept.
_USER_AGENT = b"user-agent"
_REFERER = b"referer"
_FORWARDED = b"forwarded"
_X_FORWARDED_FOR = b"x-forwarded-for"
_FIRST_LINE_ONLY = frozenset({_USER_AGENT, _REFERER})


@dataclass(frozen=True, slots=True, kw_only=True)
class RequestLoggingPolicy:
    """RequestLoggingMiddleware's options, validated once, with look-ups precomputed."""

    logger: str | LoggerLike
    format: str | Formatter
    request_id_header: str
    trust_request_id: bool
    exclude_paths: tuple[str, ...]
    trusted_proxies: TrustedProxies
    # Derived: the ID header's name as it crosses the core boundary, the request fields the
    # record reads (the forwarding ones only when a proxy is trusted), the exclusion look-ups.
    header_name: bytes
    reads: frozenset[bytes]
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
        _check_format(format)
        header_name = _header_name(request_id_header)
        if not isinstance(trust_request_id, bool):
            raise TypeError(f"trust_request_id must be True or False, got {trust_request_id!r}.")
        paths = _paths(exclude_paths)
        proxies = TrustedProxies.build(trusted_proxies)
        forwarding = (_FORWARDED, _X_FORWARDED_FOR) if proxies else ()
        return cls(
            logger=logger,
            format=format,
            request_id_header=request_id_header,
            trust_request_id=trust_request_id,
            exclude_paths=paths,
            trusted_proxies=proxies,
            header_name=header_name,
            reads=frozenset((header_name, _USER_AGENT, _REFERER, *forwarding)),
            exact_paths=frozenset(path for path in paths if not path.endswith("/")),
            path_prefixes=tuple(path for path in paths if path.endswith("/")),
        )

    def excludes(self, path: str) -> bool:
        """Whether ``path`` (the full path, without the query) writes no record."""
        return path in self.exact_paths or path.startswith(self.path_prefixes)

    def request_id(self, incoming: str | None, generate: Callable[[], str] = new_request_id) -> str:
        """The request's ID from the incoming header value (see ``accept_request_id``)."""
        return accept_request_id(incoming, trust=self.trust_request_id, generate=generate)

    def begin(
        self,
        *,
        method: str,
        path: str | bytes,
        query: str | bytes,
        protocol: str,
        headers: Headers,
        peer: str | None,
        now: float,
        request_id: str | None = None,
    ) -> RequestLog:
        """One request on its way to the access log, started at ``now`` (monotonic seconds).

        ``path`` is the full path, percent-decoded: text, or the bytes as received (WSGI, when
        they are not ASCII). ``query`` is the raw query string, ``protocol`` e.g.
        ``"HTTP/1.1"``, ``peer`` the address the server saw, ``headers`` the request's fields
        (at least those named in ``reads``). ``request_id`` is the ID an outer layer already
        gave this request, kept as it is; without it the request's own is taken or made.
        """
        # The fields the record reads, in one pass; see _FIRST_LINE_ONLY for repeated lines.
        found: dict[bytes, bytes] = {}
        reads = self.reads
        for name, value in headers:
            if name in reads:
                if name not in found:
                    found[name] = value
                elif name not in _FIRST_LINE_ONLY:
                    found[name] += b"," + value
        if request_id is None:
            incoming = found.get(self.header_name)
            request_id = (
                new_request_id()
                if incoming is None
                else accept_request_id(incoming.decode("latin-1"), trust=self.trust_request_id)
            )
        # Positional, in the fields' order: making a class with nine keyword arguments costs
        # about 0.2 µs more (the keywords go through a dict), on every request.
        return RequestLog(self, request_id, method, path, query, protocol, peer, found, now)


def _check_format(format: object) -> None:
    if isinstance(format, str):
        if format not in ("combined", "json"):
            raise ValueError(f"{_FORMAT_CHOICES}, got {format!r}.")
    elif not callable(format):
        raise TypeError(f"{_FORMAT_CHOICES}, got {format!r}.")


def _header_name(name: object) -> bytes:
    """``request_id_header`` as the lower-case bytes the core compares, or ValueError."""
    if not isinstance(name, str) or not name.isascii() or not is_token(name.encode("ascii")):
        raise ValueError(
            f"request_id_header must be a header name such as 'X-Request-ID', got {name!r}."
        )
    return name.lower().encode("ascii")


def _paths(exclude_paths: object) -> tuple[str, ...]:
    if isinstance(exclude_paths, str | bytes) or not isinstance(exclude_paths, Iterable):
        raise TypeError(f"exclude_paths must be a list of paths, got {exclude_paths!r}.")
    paths = tuple(exclude_paths)
    for path in paths:
        if not isinstance(path, str) or not path.startswith("/"):
            raise ValueError(
                f"exclude_paths entries must be paths starting with '/', got {path!r}."
            )
    return paths


def websocket_close_code(value: object) -> int | None:
    """A websocket close code as the record carries it: an integer as given, anything else None.

    RFC 6455 §7.4 gives the codes their meaning (1000-4999, 1005 and 1006 never sent in a
    frame); which code may go on the wire is the server's rule: uvicorn and Daphne refuse 5000
    by raising into the app (a close the server did not take is never recorded), hypercorn
    sends it. So the record keeps the code the server took or reported, whatever its range (a
    999 or a 5000 shows a misbehaving app or client in the log); a value that is not an
    integer (ASGI requires one) is no code at all.
    """
    return value if type(value) is int else None


# Status logged when the response never started: the server answers an app that returned
# nothing with a 500; 499 is the status nginx and log tools use for "client closed request".
_UNSTARTED = {Outcome.COMPLETED: 500, Outcome.ERROR: 500, Outcome.DISCONNECTED: 499}


@dataclass(slots=True)
class RequestLog:
    """One request on its way to the access log (``RequestLoggingPolicy.begin`` makes it).

    What the record will say, as the adapter reports it:

    - ``status``: the status the client got, None until the response head left. ``start``
      sets it on ASGI; WSGI, whose headers are native strings, sets the ID field itself and
      ``status`` once the server accepted the head (an ``exc_info`` restart after the head
      left is refused by the server, and the first status stands).
    - ``sent``: the body bytes (a websocket's message bytes) the server took.
    - ``outcome``: None while the response runs; COMPLETED once its last piece is on its way
      (a websocket: once its close or refusal was taken), DISCONNECTED once the client left,
      ERROR when the app raised (``raised``). From the first end on nothing more is counted.
    - ``ended_at``: when the response ended, if it ended before the app returned, so work the
      app does after it is not in the duration.
    - ``close_code``: a websocket's first close (``websocket_close_code``); None on HTTP.
    """

    policy: RequestLoggingPolicy
    request_id: str
    method: str
    path: str | bytes
    query: str | bytes
    protocol: str
    peer: str | None
    headers: dict[bytes, bytes]
    started_at: float
    status: int | None = None
    sent: int = 0
    outcome: Outcome | None = None
    ended_at: float | None = None
    close_code: int | None = None

    def start(self, status: int, headers: Iterable[tuple[bytes, bytes]]) -> Headers:
        """The response head is leaving with ``status``: ``headers`` with the request ID set.

        A new list; an ID field the app set (in any case) is replaced, never duplicated.
        """
        self.status = status
        name = self.policy.header_name
        kept = []
        for field in headers:
            if field[0].lower() != name:
                kept.append(field)
        kept.append((name, self.request_id.encode("latin-1")))
        return kept

    def ended(self, outcome: Outcome, now: float, close_code: int | None = None) -> None:
        """The response ended at ``now``: the app ended it (COMPLETED) or the client left
        (DISCONNECTED); a websocket's with the close's code."""
        self.outcome = outcome
        self.ended_at = now
        self.close_code = close_code

    def raised(self) -> None:
        """The app raised: the record says ERROR, unless the client had left first."""
        if self.outcome is not Outcome.DISCONNECTED:
            self.outcome = Outcome.ERROR

    def cancelled(self) -> None:
        """The server gave up on the request (the client gone, a shutdown): DISCONNECTED.

        An HTTP response is complete only once the app returned (an exception after its last
        message still makes it an error), so it is disconnected whatever it sent; a websocket
        connection that had already ended keeps its end.
        """
        if self.outcome is None or self.protocol != WEBSOCKET:
            self.outcome = Outcome.DISCONNECTED

    def end(self, *, now: float, wall: float) -> Entry | None:
        """The finished request's record (its fields) and line, or None for an excluded path.

        ``now`` is the present on the monotonic clock of ``begin`` (the end, unless
        ``ended_at`` says the response ended earlier), ``wall`` the same instant in epoch
        seconds. A response still open (outcome None) when the app returned is one the app
        stopped sending: DISCONNECTED on HTTP; a websocket the app ended by returning is
        COMPLETED. A response that never started is logged as 500, or 499 when the client
        left first; so is a websocket that was neither accepted nor refused.
        """
        path, query, headers = self.path, self.query, self.headers
        policy = self.policy
        if policy.exclude_paths and policy.excludes(
            path if isinstance(path, str) else path.decode("utf-8", "replace")
        ):
            return None
        outcome = self.outcome
        if outcome is None:
            outcome = Outcome.COMPLETED if self.protocol == WEBSOCKET else Outcome.DISCONNECTED
        user_agent, referer = headers.get(_USER_AGENT), headers.get(_REFERER)
        duration = (now if self.ended_at is None else self.ended_at) - self.started_at
        fields: Fields = {
            "client": self._forwarded_client() if policy.trusted_proxies.active else self.peer,
            "method": self.method,
            "path": _target_path(path),
            "query": query if isinstance(query, str) else query.decode("latin-1"),
            "protocol": self.protocol,
            "status": _UNSTARTED[outcome] if self.status is None else self.status,
            "bytes": self.sent,
            # Whole microseconds, as milliseconds: int / 1000 is the double nearest that decimal.
            "duration_ms": int(duration * 1e6 + 0.5) / 1000,
            "user_agent": None if user_agent is None else user_agent.decode("latin-1"),
            "referer": None if referer is None else referer.decode("latin-1"),
            "request_id": self.request_id,
            "outcome": outcome,
            "close_code": self.close_code,
        }
        format = policy.format
        if not isinstance(format, str):
            return fields, str(format(AccessRecord(**fields)))
        if format == "json":
            return fields, _json(fields)
        # Combined stamps the line with the time the request arrived.
        return fields, _combined(fields, wall - duration)

    def _forwarded_client(self) -> str | None:
        return client_address(
            self.peer,
            trusted=self.policy.trusted_proxies,
            forwarded=_text(self.headers.get(_FORWARDED)),
            x_forwarded_for=_text(self.headers.get(_X_FORWARDED_FOR)),
        )


def _text(value: bytes | None) -> str | None:
    return None if value is None else value.decode("latin-1")


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
