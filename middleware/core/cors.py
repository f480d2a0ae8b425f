"""CORS: the WHATWG Fetch standard's CORS protocol, decided from a precomputed policy.

A ``CORSPolicy`` is built once from Starlette's options (plus ``paths`` and
``websocket_origins``); for each request the adapter hands it the method, the path and the raw
``Origin`` / ``Access-Control-Request-*`` values (or the raw request header list), and gets back
one of three answers: nothing to do (outside ``paths``), a ``HeaderBlock`` of fields to add to
the app's response, or a whole ``Response`` (the answer to a preflight) to send instead of
calling the app. For a websocket handshake, ``websocket`` answers None (let it through) or a
``HandshakeRefusal``, by the same origin rule (``allowed_origin``).

    >>> policy = CORSPolicy.from_options(allow_origins=["https://app.example"])
    >>> block = policy.decide("GET", "/", b"https://app.example")
    >>> block.apply([(b"content-type", b"text/plain")])[1:]
    [(b'access-control-allow-origin', b'https://app.example'), (b'vary', b'Origin')]
    >>> policy.decide("OPTIONS", "/", b"https://evil.example", b"GET").status
    400

Options (names, positions and defaults of Starlette's ``CORSMiddleware``):

- ``allow_origins=()``: origins exactly as browsers send them (``scheme://host[:port]``,
  lower-case, no path); ``"null"`` matches only when listed; ``"*"`` means every origin.
- ``allow_methods=("GET",)``: methods a preflight may ask for; ``"*"`` accepts any method.
- ``allow_headers=()``: request headers a preflight may ask for, case-insensitive, on top of the
  CORS-safelisted ones; ``"*"`` accepts (and echoes, as the client spelled them) any. The
  answer lists them as Starlette does: ``Accept, Accept-Language, Content-Language,
  Content-Type`` and the configured names as written, sorted.
- ``allow_credentials=False``: send ``Access-Control-Allow-Credentials: true``; the origin is
  then always echoed, never ``*``.
- ``allow_origin_regex=None``: a regex that must match the *whole* origin.
- ``allow_private_network=False``: answer Private Network Access preflights.
- ``expose_headers=()``: response headers the page's script may read.
- ``max_age=600``: seconds a browser may cache a preflight answer.
- ``paths=None``: a regex applied with ``re.match`` to the path; CORS (and ``Vary: Origin``)
  applies only where it matches.
- ``websocket_origins=True``: refuse a websocket handshake whose ``Origin`` is present and not
  allowed (Cross-Site WebSocket Hijacking); False lets every handshake through, as Starlette
  does. Only ASGI has websockets: on WSGI the option is accepted and has no effect.

Every response on a CORS path carries ``Vary: Origin``, a literal ``"*"`` answer included:
a request without Origin gets no Allow-Origin, so the response still varies with it (Fetch
§3.2.5), and Starlette sends it too.

``"*"`` together with ``allow_credentials`` lets every site read credentialed responses; the
policy accepts it (as Starlette does) and lists the risk in ``policy.warnings``, which the
adapters log once at construction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from functools import lru_cache
from typing import Any, final

from .headers import Headers, get, get_all, is_token, merge_vary, split_list
from .responses import Response, plain, plain_headers

Block = tuple[tuple[bytes, bytes], ...]

# Fetch §2.2.2: a CORS-safelisted request-header is one of `accept`, `accept-language`,
# `content-language`, `content-type` (with a safelisted value). Browsers list such a header in
# Access-Control-Request-Headers only when its value is not safelisted (JSON bodies); Starlette
# accepts these four names whatever the configuration, and so does this policy.
SAFELISTED_HEADERS = frozenset(
    {b"accept", b"accept-language", b"content-language", b"content-type"}
)
# How Starlette spells them in Access-Control-Allow-Headers, sorted together with the
# configured names as the application wrote them (SPEC: Starlette's spelling and order).
_SAFELISTED_SPELLING = frozenset({"Accept", "Accept-Language", "Content-Language", "Content-Type"})

# Fetch §2.2.1: "To normalize a method, if it is a byte-case-insensitive match for `DELETE`,
# `GET`, `HEAD`, `OPTIONS`, `POST`, or `PUT`, byte-uppercase it." Browsers send the normalized
# form, so configured methods are normalized the same way; any other method is case-sensitive.
NORMALIZED_METHODS = frozenset({"DELETE", "GET", "HEAD", "OPTIONS", "POST", "PUT"})

# Fetch §3.2.5 and the URL standard's origin serialization: scheme "://" host [ ":" port ], with
# a lower-case scheme and host (domains in their ASCII, punycode form). Anything else in an
# Origin header (userinfo, path, query, upper case, a trailing dot, whitespace, non-ASCII bytes)
# is not an origin a browser sends, so it never reaches a user's allow_origin_regex.
_ORIGIN_SOURCE = (
    r"(?P<scheme>[a-z][a-z0-9+.\-]*)://"
    r"(?P<host>[a-z0-9_\-]+(?:\.[a-z0-9_\-]+)*|\[[0-9a-f:.]+\])"
    r"(?::(?P<port>[0-9]{1,5}))?"
)
_ORIGIN_TEXT = re.compile(_ORIGIN_SOURCE)
_ORIGIN_BYTES = re.compile(_ORIGIN_SOURCE.encode())
# A DNS name is at most 253 octets; with a scheme and a port a real origin stays far below this.
MAX_ORIGIN_LENGTH = 512
_DEFAULT_PORTS = {"http": "80", "https": "443", "ws": "80", "wss": "443"}

# RFC 9110 §5.6.2: token = 1*tchar. Access-Control-Request-Method is a method (a token) and
# Access-Control-Request-Headers a list of field names (tokens); only tokens are ever echoed.
_TOKEN = re.compile(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+")

_ACAO = b"access-control-allow-origin"
_ACAC = b"access-control-allow-credentials"
_ACAM = b"access-control-allow-methods"
_ACAH = b"access-control-allow-headers"
_ACEH = b"access-control-expose-headers"
_ACMA = b"access-control-max-age"
_ACAPN = b"access-control-allow-private-network"

_CREDENTIALS = (_ACAC, b"true")
_STAR = (_ACAO, b"*")
_VARY_ORIGIN = (b"vary", b"Origin")
_PNA = (_ACAPN, b"true")
_OK_BODY = b"OK"
# Fetch §3.2.3: a preflight's answer depends on the request's origin, method and headers (and,
# with Private Network Access, on the private-network request header). Starlette lists all four
# on every answer to a preflight, granted or refused, whatever the options; so does this policy.
_PREFLIGHT_VARY: Block = (
    (
        b"vary",
        b"Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
        b"Access-Control-Request-Private-Network",
    ),
)
# RFC 6455 §4.2.2: a server that does not accept the handshake's origin "MAY" answer with an
# HTTP error code such as 403 Forbidden; §7.4.1: 1008 is the close code for a policy violation.
_HANDSHAKE_REFUSED = plain(403, b"Disallowed CORS origin")
POLICY_VIOLATION = 1008

# Response fields the policy sets; an app's own copy is replaced so the browser never sees two.
_ANSWER = frozenset({_ACAO, _ACAC, _ACEH})
#: The response fields ``HeaderBlock.apply`` reads in the app's headers: when none is there,
#: the block's fields are simply appended.
MANAGED = _ANSWER | {b"vary"}


@final
@dataclass(frozen=True, slots=True)
class HeaderBlock:
    """Fields to add to the app's response start (``Vary: Origin`` merged, not duplicated)."""

    fields: Block
    #: The fields other than Vary: when there are any, they replace the app's own.
    sets: Block = field(init=False, repr=False, compare=False)
    #: Whether the block carries ``Vary: Origin``.
    varies: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        sets = tuple(item for item in self.fields if item[0] != b"vary")
        object.__setattr__(self, "sets", sets)
        object.__setattr__(self, "varies", len(sets) != len(self.fields))

    def apply(self, headers: Headers) -> Headers:
        """``headers`` with this block's fields set and ``Vary: Origin`` merged.

        A response with none of the ``MANAGED`` fields (the common case) gets the fields
        appended; one whose only such field is a Vary (an inner layer's) gets Origin in that
        line; otherwise ``merge`` replaces the app's own CORS fields and coalesces Vary.
        """
        at = _managed_at(headers)
        if at is None:
            return [*headers, *self.fields]
        if at < 0:
            return self.merge(headers)
        # The same result as merge's, without rebuilding the head.
        out = [*headers, *self.sets]
        if self.varies:
            out[at] = (b"vary", vary_with_origin(headers[at][1]))
        return out

    def merge(self, headers: Headers) -> Headers:
        """``apply`` for a response that already carries some of the ``MANAGED`` fields."""
        # When the policy answers for the origin, its answer is the whole answer: an app's own
        # Allow-Origin, Allow-Credentials or Expose-Headers would contradict or duplicate it.
        replaced = _ANSWER if self.sets else frozenset()
        out = [(name, value) for name, value in headers if name not in replaced]
        out.extend(self.sets)
        if self.varies:
            # RFC 9110 §12.5.5: an origin server SHOULD send a Vary header field when its
            # algorithm for selecting a representation varies based on aspects of the request
            # message other than the method and target URI.
            out = merge_vary(out, (b"Origin",))
        return out


def _managed_at(headers: Headers) -> int | None:
    """Where ``headers`` has ``MANAGED`` fields: None for none, the index of a lone Vary, -1
    for any other mix."""
    at = None
    for index, (name, _) in enumerate(headers):
        if name in MANAGED:
            if name != b"vary" or at is not None:
                return -1
            at = index
    return at


@lru_cache(maxsize=256)
def vary_with_origin(value: bytes) -> bytes:
    """One Vary field's value with Origin merged, by ``merge_vary``'s rule. Remembered: a
    site's layers set a handful of values, and the look-up costs 0.04 µs where the merge
    costs 1 µs, on every response of a stack whose inner layer sets Vary."""
    return get(merge_vary([(b"vary", value)], (b"Origin",)), b"vary") or value


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class HandshakeRefusal:
    """A websocket handshake the policy refuses: the HTTP answer to send where the server
    lets the app answer the handshake, the close code otherwise, and the line to log."""

    response: Response
    close_code: int
    message: str


@dataclass(frozen=True, slots=True, kw_only=True)
class CORSPolicy:
    """A validated, precomputed CORS configuration; build it with :meth:`from_options`.

    ``decide`` (or ``decide_headers`` for a raw header list) is all an adapter calls per
    request, ``websocket`` per websocket handshake. The policy holds no per-request state and
    is safe to share between threads.
    """

    allow_all_origins: bool
    allow_credentials: bool
    allow_private_network: bool
    origin_regex: re.Pattern[str] | None
    paths: re.Pattern[str] | None
    websocket_origins: bool
    warnings: tuple[str, ...]
    # Precomputed answers, keyed by the raw bytes the request carries. Without an Origin, or
    # for an origin that is not allowed: Vary: Origin only. When every origin gets "*": the one
    # block for all of them.
    _vary_only: HeaderBlock = field(repr=False)
    _star: HeaderBlock | None = field(repr=False)
    # Per listed origin: its Allow-Origin (and Allow-Credentials) fields, and the block an
    # actual request gets; what follows Allow-Origin in an allowed origin's block.
    _origin_fields: dict[bytes, Block] = field(repr=False)
    _actual: dict[bytes, HeaderBlock] = field(repr=False)
    _actual_tail: Block = field(repr=False)
    _preflight: _PreflightRules = field(repr=False)

    @classmethod
    def from_options(
        cls,
        allow_origins: Iterable[str] = (),
        allow_methods: Iterable[str] = ("GET",),
        allow_headers: Iterable[str] = (),
        allow_credentials: bool = False,
        allow_origin_regex: str | re.Pattern[str] | None = None,
        allow_private_network: bool = False,
        expose_headers: Iterable[str] = (),
        max_age: int = 600,
        *,
        paths: str | re.Pattern[str] | None = None,
        websocket_origins: bool = True,
    ) -> CORSPolicy:
        """Validate Starlette's ``CORSMiddleware`` options (plus ``paths`` and
        ``websocket_origins``) and precompute.

        Raises TypeError or ValueError, naming the option, for a configuration that cannot work.
        """
        origins = _strings("allow_origins", allow_origins)
        methods = _strings("allow_methods", allow_methods)
        headers = _strings("allow_headers", allow_headers)
        exposed = _strings("expose_headers", expose_headers)
        credentials = _flag("allow_credentials", allow_credentials)
        private_network = _flag("allow_private_network", allow_private_network)
        guard = _flag("websocket_origins", websocket_origins)
        _check_max_age(max_age)
        regex = _pattern("allow_origin_regex", allow_origin_regex)
        path_regex = _pattern("paths", paths)
        _check_values(origins, methods, headers, exposed)

        allow_all = "*" in origins
        star = allow_all and not credentials
        expose: Block = ((_ACEH, ", ".join(_unique(exposed)).encode()),) if exposed else ()
        listed = {} if star else _listed_origins(origins, credentials)
        # Fetch §3.2.5 (CORS protocol and HTTP caches): even a literal "*" answer varies with
        # the request, since a request without Origin gets none; Vary: Origin goes on every
        # response on a CORS path, as Starlette sends it.
        tail = (*expose, _VARY_ORIGIN)
        return cls(
            allow_all_origins=allow_all,
            allow_credentials=credentials,
            allow_private_network=private_network,
            origin_regex=regex,
            paths=path_regex,
            websocket_origins=guard,
            warnings=_warnings(star_with_credentials=allow_all and credentials),
            _vary_only=HeaderBlock((_VARY_ORIGIN,)),
            _star=HeaderBlock((_STAR, *tail)) if star else None,
            _origin_fields=listed,
            _actual={raw: HeaderBlock((*own, *tail)) for raw, own in listed.items()},
            _actual_tail=tail,
            _preflight=_PreflightRules.build(
                methods,
                headers,
                max_age=max_age,
                origins={b"*": (_STAR,)} if star else listed,
            ),
        )

    def applies(self, path: str) -> bool:
        """Whether CORS covers ``path`` (always, unless ``paths`` is set)."""
        return self.paths is None or self.paths.match(path) is not None

    def decide(
        self,
        method: str,
        path: str,
        origin: bytes | None,
        request_method: bytes | None = None,
        request_headers: bytes | None = None,
        private_network: bytes | None = None,
    ) -> Response | HeaderBlock | None:
        """The answer for one request.

        ``None`` (outside ``paths``): call the app and leave its response alone. A
        ``HeaderBlock``: call the app and ``apply`` the block to its response headers (a crash
        response included). A ``Response``: send it; the app is not called. Header values are
        the raw request bytes; ``request_headers`` is every Access-Control-Request-Headers line
        joined by ",".
        """
        if self.paths is not None and self.paths.match(path) is None:
            return None
        if origin is None:
            return self._vary_only
        # Fetch §3.2.2: a CORS-preflight request is an OPTIONS request whose headers include
        # `Access-Control-Request-Method` (and `Origin`, as every CORS request does).
        if method == "OPTIONS" and request_method is not None:
            return self.preflight(origin, request_method, request_headers, private_network)
        return self.actual(origin)

    def decide_headers(
        self, method: str, path: str, headers: Headers
    ) -> Response | HeaderBlock | None:
        """``decide`` for a raw request header list (lower-case names, as ASGI carries them).

        The first Origin and Access-Control-Request-Method count; Access-Control-Request-Headers
        lines are joined.
        """
        if self.paths is not None and self.paths.match(path) is None:
            return None
        origin = get(headers, b"origin")
        if origin is None:
            return self._vary_only
        if method == "OPTIONS":
            request_method, request_headers, private_network = _preflight_values(headers)
            if request_method is not None:
                return self.preflight(origin, request_method, request_headers, private_network)
        return self.actual(origin)

    def allowed_origin(self, origin: bytes) -> Block | None:
        """The Allow-Origin (and Allow-Credentials) fields for ``origin`` (the raw header
        value), or None when the policy does not allow it.

        The one origin rule: simple and actual requests, preflights and websocket handshakes
        all ask it. A listed origin matches byte for byte (``"null"`` only when listed); a
        literal ``"*"`` without credentials allows any value; otherwise only a well-formed
        origin is echoed, with ``"*"`` and credentials or when the regex matches it whole.
        """
        fields = self._origin_fields.get(origin)
        if fields is not None:
            return fields
        if self._star is not None:
            return (_STAR,)
        return self._dynamic_origin(origin)

    def actual(self, origin: bytes) -> HeaderBlock:
        """The fields for a non-preflight request carrying ``origin``."""
        block = self._actual.get(origin)
        if block is not None:
            return block
        fields = self.allowed_origin(origin)
        if fields is None:
            return self._vary_only
        if self._star is not None:
            return self._star
        return HeaderBlock((*fields, *self._actual_tail))

    def preflight(
        self,
        origin: bytes,
        request_method: bytes,
        request_headers: bytes | None = None,
        private_network: bytes | None = None,
    ) -> Response:
        """The response to a preflight from ``origin`` (the raw header values)."""
        rules = self._preflight
        origin_fields = self.allowed_origin(origin)
        method_field = rules.method_field(request_method)
        header_field = rules.header_field(request_headers)
        if origin_fields is None or method_field is None or header_field is None:
            return rules.refusal(origin=origin_fields, method=method_field, headers=header_field)
        # Private Network Access §3.2: the preflight carries
        # `Access-Control-Request-Private-Network: true`; the server opts in by answering
        # `Access-Control-Allow-Private-Network: true`. Without the opt-in the header is simply
        # not sent and the browser enforces its own rule.
        if self.allow_private_network and private_network == b"true":
            return rules.granted(origin_fields, method_field, header_field, _PNA)
        if method_field is rules.methods_field and header_field is rules.headers_field:
            # Prebuilt per listed origin, or once (as b"*") when every origin gets "*".
            ready = rules.ok.get(origin if self._star is None else b"*")
            if ready is not None:
                return ready
        return rules.granted(origin_fields, method_field, header_field)

    def websocket(self, path: str, headers: Headers) -> HandshakeRefusal | None:
        """None when a websocket handshake may reach the app, else how to refuse it.

        ``headers`` is the handshake's raw header list. Cross-Site WebSocket Hijacking:
        browsers apply no CORS to websockets and send the page's Origin (RFC 6455 §4.1,
        §10.2) with the user's cookies, so a handshake whose Origin the policy does not allow
        is refused before the app runs. No Origin (a client that is not a browser) passes,
        and so does every handshake outside ``paths`` or with ``websocket_origins=False``.
        """
        if not self.websocket_origins:
            return None
        if self.paths is not None and self.paths.match(path) is None:
            return None
        origins = get_all(headers, b"origin")
        if not origins:
            return None
        origin = origins[0]
        # RFC 6455 §4.1: the client sends one Origin field. Several lines are honoured only
        # when they all say the same thing; differing ones leave no origin to judge.
        if any(other != origin for other in origins[1:]):
            shown = ", ".join(_shown(value) for value in origins[:4])
            return _refusal(f"{len(origins)} different Origin fields ({shown})", path)
        if self.allowed_origin(origin) is None:
            return _refusal(f"Origin {_shown(origin)} is not allowed", path)
        return None

    def _dynamic_origin(self, origin: bytes) -> Block | None:
        # Only a well-formed origin is echoed or tried against the regex, so "https://evil/."
        # ".example.com", userinfo, upper case, or 10 KB of junk cannot satisfy a pattern like
        # r"https://.*\.example\.com".
        if len(origin) > MAX_ORIGIN_LENGTH or _ORIGIN_BYTES.fullmatch(origin) is None:
            return None
        if not self.allow_all_origins:
            regex = self.origin_regex
            # Starlette #801: the pattern must match the whole origin, not a prefix of it.
            if regex is None or regex.fullmatch(origin.decode("ascii")) is None:
                return None
        if self.allow_credentials:
            return ((_ACAO, origin), _CREDENTIALS)
        return ((_ACAO, origin),)


def _refusal(reason: str, path: str) -> HandshakeRefusal:
    message = f"Refused a websocket handshake on {path!r}: {reason} (websocket_origins)."
    return HandshakeRefusal(
        response=_HANDSHAKE_REFUSED, close_code=POLICY_VIOLATION, message=message
    )


def _shown(value: bytes) -> str:
    """A request value for a log line: at most 100 characters, control characters escaped."""
    text = value[:100].decode("latin-1")
    return repr(text) + ("..." if len(value) > 100 else "")


@dataclass(frozen=True, slots=True, kw_only=True)
class _PreflightRules:
    """What a preflight's method and headers are checked against, and its answers' parts."""

    any_method: bool
    methods: frozenset[bytes]
    methods_field: Block
    any_header: bool
    headers: frozenset[bytes]
    headers_field: Block
    # What ends a granted answer (Max-Age, Vary, text/plain).
    tail: Block
    # The answer to the common preflight (an allowed method, listed headers), prebuilt per
    # listed origin (b"*" when every origin gets "*").
    ok: dict[bytes, Response]

    @classmethod
    def build(
        cls,
        methods: list[str],
        headers: list[str],
        *,
        max_age: int,
        origins: dict[bytes, Block],
    ) -> _PreflightRules:
        """The rules for validated options; ``origins`` maps each listed origin (b"*" when
        every origin gets "*") to its Allow-Origin fields."""
        methods_field, method_set = _allowed_methods(methods)
        headers_field, header_set = _allowed_headers(headers)
        tail = ((_ACMA, b"%d" % max_age), *_PREFLIGHT_VARY, *plain_headers(_OK_BODY))
        common = (*methods_field, *headers_field, *tail)
        return cls(
            any_method="*" in methods,
            methods=method_set,
            methods_field=methods_field,
            any_header="*" in headers,
            headers=header_set,
            headers_field=headers_field,
            tail=tail,
            ok={
                raw: Response(status=200, headers=(*own, *common), body=_OK_BODY)
                for raw, own in origins.items()
            },
        )

    def method_field(self, request_method: bytes) -> Block | None:
        """The Allow-Methods field for ``request_method``, or None when it is not allowed."""
        # Fetch §4.8 (CORS-preflight fetch): "If request's method is not in methods [...] and
        # methods does not contain `*`, return a network error." Method names are compared
        # case-sensitively.
        if self.any_method:
            if _TOKEN.fullmatch(request_method) is None:
                return None
            return ((_ACAM, request_method),)
        return self.methods_field if request_method in self.methods else None

    def header_field(self, request_headers: bytes | None) -> Block | None:
        """The Allow-Headers field for the requested names, or None when one is not allowed."""
        # Fetch §4.8: "For each unsafeName of the CORS-unsafe request-header names with
        # request's header list, if unsafeName is not a byte-case-insensitive match for an item
        # in headerNames [...] return a network error."
        if not request_headers:
            return self.headers_field
        if self.any_header:
            # Echoed as the client spelled them (as Starlette does); only tokens are echoed.
            names = split_list(request_headers)
            if not all(_TOKEN.fullmatch(name) for name in names):
                return None
            return ((_ACAH, b", ".join(names)),) if names else self.headers_field
        for part in request_headers.lower().split(b","):
            name = part.strip(b" \t")
            if name and name not in self.headers:
                return None
        return self.headers_field

    def granted(
        self, origin: Block, method: Block, headers: Block, *extra: tuple[bytes, bytes]
    ) -> Response:
        """200 "OK" with the allow fields and ``extra``, in this order, then the tail."""
        fields = (*origin, *method, *headers, *extra, *self.tail)
        return Response(status=200, headers=fields, body=_OK_BODY)

    def refusal(self, **answers: Block | None) -> Response:
        """The 400 naming what failed (the answers that are None), in the order given."""
        # A rejection names what failed but does not advertise the policy: no allowed
        # methods, headers or origin for a client to probe.
        failed = [name for name, answer in answers.items() if answer is None]
        body = ("Disallowed CORS " + ", ".join(failed)).encode()
        return Response(status=400, headers=(*_PREFLIGHT_VARY, *plain_headers(body)), body=body)


def _preflight_values(headers: Headers) -> tuple[bytes | None, bytes | None, bytes | None]:
    """The first Access-Control-Request-Method, every Access-Control-Request-Headers line
    joined by ",", and the first Access-Control-Request-Private-Network, in a raw list."""
    request_method = request_headers = private_network = None
    for name, value in headers:
        if name == b"access-control-request-method":
            if request_method is None:
                request_method = value
        elif name == b"access-control-request-headers":
            request_headers = value if request_headers is None else request_headers + b"," + value
        elif name == b"access-control-request-private-network" and private_network is None:
            private_network = value
    return request_method, request_headers, private_network


def _listed_origins(origins: list[str], credentials: bool) -> dict[bytes, Block]:
    """The Allow-Origin (and Allow-Credentials) fields of each listed origin other than "*"."""
    credential: Block = (_CREDENTIALS,) if credentials else ()
    return {
        origin.encode(): ((_ACAO, origin.encode()), *credential)
        for origin in _unique(origins)
        if origin != "*"
    }


def _allowed_methods(methods: list[str]) -> tuple[Block, frozenset[bytes]]:
    """The Allow-Methods field (none for "*", which echoes) and the set a request must be in."""
    normalized = _unique(m.upper() if m.upper() in NORMALIZED_METHODS else m for m in methods)
    method_set = frozenset(m.encode() for m in normalized)
    if "*" in methods:
        return (), method_set
    return ((_ACAM, ", ".join(normalized).encode()),), method_set


def _allowed_headers(headers: list[str]) -> tuple[Block, frozenset[bytes]]:
    """The Allow-Headers field (none for "*", which echoes) and the lower-case allowed set.

    The field is Starlette's: the safelisted names in its spelling and the configured names as
    written, each distinct string once, sorted by code point (so "Accept" before "X-Custom"
    before "x-other"); names compare case-insensitively when a preflight is checked.
    """
    header_set = SAFELISTED_HEADERS | {h.lower().encode() for h in headers}
    if "*" in headers:
        return (), header_set
    listed = sorted(_SAFELISTED_SPELLING | set(headers))
    return ((_ACAH, ", ".join(listed).encode()),), header_set


def _warnings(*, star_with_credentials: bool) -> tuple[str, ...]:
    if not star_with_credentials:
        return ()
    return (
        "CORS allow_origins contains '*' and allow_credentials is True: every site's "
        "origin is echoed with Access-Control-Allow-Credentials: true, so any website "
        "can read responses made with the user's cookies. List the trusted origins "
        "instead.",
    )


def _strings(name: str, value: Any) -> list[str]:
    if isinstance(value, str | bytes):
        raise TypeError(
            f"{name} must be a collection of strings such as [{value!r}], not a single "
            f"string, got {value!r}."
        )
    try:
        items = list(value)
    except TypeError:
        raise TypeError(f"{name} must be a collection of strings, got {value!r}.") from None
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{name} must contain only strings, got {item!r} in {value!r}.")
    return items


def _flag(name: str, value: Any) -> bool:
    if not isinstance(value, bool):
        raise TypeError(f"{name} must be True or False, got {value!r}.")
    return value


def _check_max_age(max_age: Any) -> None:
    if isinstance(max_age, bool) or not isinstance(max_age, int):
        raise TypeError(f"max_age must be an int number of seconds, got {max_age!r}.")
    if max_age < 0:
        raise ValueError(f"max_age must be zero or more seconds, got {max_age!r}.")


def _pattern(name: str, value: Any) -> re.Pattern[str] | None:
    if value is None:
        return None
    if isinstance(value, re.Pattern):
        if not isinstance(value.pattern, str):
            raise TypeError(f"{name} must be a str pattern, not a bytes pattern, got {value!r}.")
        return value
    if not isinstance(value, str):
        raise TypeError(f"{name} must be a string or compiled pattern, got {value!r}.")
    try:
        return re.compile(value)
    except re.error as exc:
        raise ValueError(
            f"{name} is not a valid regular expression ({exc}), got {value!r}."
        ) from None


def _check_values(
    origins: list[str], methods: list[str], headers: list[str], exposed: list[str]
) -> None:
    """Raise ValueError for an origin, method or header name that cannot work."""
    for origin in origins:
        _check_origin(origin)
    for method in methods:
        if method != "*" and not _is_token(method):
            raise ValueError(
                f"allow_methods entries must be HTTP method names or '*', got {method!r}."
            )
    for name, values in (("allow_headers", headers), ("expose_headers", exposed)):
        for value in values:
            if not _is_token(value):
                raise ValueError(f"{name} entries must be header names or '*', got {value!r}.")


def _check_origin(origin: str) -> None:
    if origin in ("*", "null"):
        return
    match = _ORIGIN_TEXT.fullmatch(origin) if origin.isascii() else None
    if match is None or len(origin) > MAX_ORIGIN_LENGTH:
        raise ValueError(
            "allow_origins entries must be '*', 'null' or an origin exactly as browsers send it "
            "(scheme://host[:port]: lower-case, ASCII with internationalized names in punycode, "
            f"no path or trailing slash), got {origin!r}."
        )
    port = match["port"]
    if port is not None:
        if port != str(int(port)) or int(port) > 65535:
            raise ValueError(f"allow_origins entry {origin!r} has an invalid port {port!r}.")
        if _DEFAULT_PORTS.get(match["scheme"]) == port:
            short = origin[: -len(port) - 1]
            raise ValueError(
                f"allow_origins entry {origin!r} names the default port, which browsers leave "
                f"out of the Origin header; use {short!r}."
            )


def _is_token(value: str) -> bool:
    return value.isascii() and is_token(value.encode())


def _unique(values: Iterable[str]) -> list[str]:
    return list(dict.fromkeys(values))
