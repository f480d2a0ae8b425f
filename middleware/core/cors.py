"""CORS: the WHATWG Fetch standard's CORS protocol, decided from a precomputed policy.

A ``CORSPolicy`` is built once from Starlette's options (plus ``paths``); for each request the
adapter hands it the method, the path and the raw ``Origin`` / ``Access-Control-Request-*``
values, and gets back one of three answers: nothing to do, headers to add to the app's response,
or a complete preflight response to send instead of calling the app.

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
  CORS-safelisted ones; ``"*"`` accepts (and echoes) any.
- ``allow_credentials=False``: send ``Access-Control-Allow-Credentials: true``; the origin is
  then always echoed, never ``*``.
- ``allow_origin_regex=None``: a regex that must match the *whole* origin.
- ``allow_private_network=False``: answer Private Network Access preflights.
- ``expose_headers=()``: response headers the page's script may read.
- ``max_age=600``: seconds a browser may cache a preflight answer.
- ``paths=None``: a regex applied with ``re.match`` to the path; CORS (and ``Vary: Origin``)
  applies only where it matches.

``"*"`` together with ``allow_credentials`` lets every site read credentialed responses; the
policy accepts it (as Starlette does) and lists the risk in ``policy.warnings``, which the
adapters log once at construction.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Any, final

from .headers import Headers, get, is_token, merge_vary

Block = tuple[tuple[bytes, bytes], ...]
NativeBlock = tuple[tuple[str, str], ...]

# Fetch §2.2.2: a CORS-safelisted request-header is one of `accept`, `accept-language`,
# `content-language`, `content-type` (with a safelisted value). Browsers list such a header in
# Access-Control-Request-Headers only when its value is not safelisted (JSON bodies); Starlette
# accepts these four names whatever the configuration, and so does this policy.
SAFELISTED_HEADERS = frozenset(
    {b"accept", b"accept-language", b"content-language", b"content-type"}
)

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
_PNA = ((_ACAPN, b"true"),)

# Response fields the policy sets; an app's own copy is replaced so the browser never sees two.
_ANSWER = frozenset({_ACAO, _ACAC, _ACEH})
_MANAGED = _ANSWER | {b"vary"}
_MANAGED_TEXT = frozenset(name.decode() for name in _MANAGED)
_NOTHING: frozenset[bytes] = frozenset()

_FAILURE_NAMES = ("origin", "method", "headers")
_OK_BODY = b"OK"


def _plain(body: bytes) -> Block:
    return ((b"content-type", b"text/plain; charset=utf-8"), (b"content-length", b"%d" % len(body)))


class RequestKind(Enum):
    """What a request is to the CORS protocol."""

    #: Outside ``paths``, or no ``Origin`` header: the app answers, at most ``Vary`` is added.
    NONE = "none"
    #: A request with an ``Origin`` that is not a preflight: the app answers, CORS headers added.
    ACTUAL = "actual"
    #: ``OPTIONS`` with ``Origin`` and ``Access-Control-Request-Method``: the policy answers.
    PREFLIGHT = "preflight"


@final
@dataclass(frozen=True, slots=True)
class HeaderBlock:
    """Fields to add to the app's response start (``Vary: Origin`` merged, not duplicated).

    ``fields`` are the core's bytes pairs; ``native`` the same fields as WSGI native strings
    (canonical capitalisation), converted once when the block is built rather than on every
    response.
    """

    fields: Block
    native: NativeBlock = field(init=False, repr=False, compare=False)
    # The fields other than Vary, in both forms, and whether the block carries Vary: Origin:
    # what the one-Vary-field merge below appends.
    _others: Block = field(init=False, repr=False, compare=False)
    _native_others: NativeBlock = field(init=False, repr=False, compare=False)
    _varies: bool = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        native = _to_native(self.fields)
        object.__setattr__(self, "native", native)
        others = tuple(item for item in self.fields if item[0] != b"vary")
        object.__setattr__(self, "_others", others)
        object.__setattr__(self, "_native_others", _to_native(others))
        object.__setattr__(self, "_varies", len(others) != len(self.fields))

    def apply(self, headers: Headers) -> Headers:
        """``headers`` with this block's fields set and ``Vary: Origin`` merged.

        The common case (the app set none of these fields) is one scan and one concatenation;
        otherwise the app's own CORS fields are replaced and its ``Vary`` coalesced.
        """
        for name, _ in headers:
            if name in _MANAGED:
                return self._merge(headers)
        return [*headers, *self.fields]

    def apply_native(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        """``apply`` for WSGI's native-string headers (any name case), names kept as given."""
        for name, _ in headers:
            # Only names starting with "a" or "v" can be managed: skip lower() for the rest.
            if name[:1] in "aAvV" and name.lower() in _MANAGED_TEXT:
                return self._merge_native(headers)
        return [*headers, *self.native]

    def _merge(self, headers: Headers) -> Headers:
        # Inside a stack the app's response usually carries one managed field, the Vary an
        # inner layer set (compression's Accept-Encoding): that line gains Origin in place
        # and the rest are appended, the same result as the general merge below.
        at = -1
        for index, (name, _) in enumerate(headers):
            if name in _MANAGED:
                if name != b"vary" or at >= 0:
                    break
                at = index
        else:
            if at < 0:
                return [*headers, *self.fields]
            out = [*headers, *self._others]
            if self._varies:
                out[at] = (b"vary", _vary_with_origin(headers[at][1]))
            return out
        return self._merge_all(headers)

    def _merge_all(self, headers: Headers) -> Headers:
        fields = [item for item in self.fields if item[0] != b"vary"]
        # When the policy answers for the origin, its answer is the whole answer: an app's own
        # Allow-Origin, Allow-Credentials or Expose-Headers would contradict or duplicate it.
        replaced = _ANSWER if fields else _NOTHING
        out = [(name, value) for name, value in headers if name not in replaced]
        out.extend(fields)
        if len(fields) != len(self.fields):
            # RFC 9110 §12.5.5: an origin server SHOULD send a Vary header field when its
            # algorithm for selecting a representation varies based on aspects of the request
            # message other than the method and target URI.
            out = merge_vary(out, (b"Origin",))
        return out

    def _merge_native(self, headers: list[tuple[str, str]]) -> list[tuple[str, str]]:
        # One Vary field and no other managed one: as in _merge, without converting the list.
        at = -1
        for index, (key, _) in enumerate(headers):
            if key[:1] in "aAvV" and key.lower() in _MANAGED_TEXT:
                if key.lower() != "vary" or at >= 0:
                    break
                at = index
        else:
            if at < 0:
                return [*headers, *self.native]
            out = [*headers, *self._native_others]
            if self._varies:
                key, line = headers[at]
                out[at] = (key, _native_vary_with_origin(line))
            return out
        # The same rules as _merge, run through the core's bytes form; the app's own fields
        # (its Vary line included) keep their spelling, the policy's use the canonical one.
        merged = self._merge_all(
            [(n.lower().encode("latin-1"), v.encode("latin-1")) for n, v in headers]
        )
        spelling = {name.lower(): name for name, _ in reversed(headers)}
        for name, _ in self.fields:
            if name != b"vary":
                spelling.pop(name.decode("latin-1"), None)
        out = []
        for name, value in merged:
            text = name.decode("latin-1")
            out.append((spelling.get(text) or _canonical(text), value.decode("latin-1")))
        return out


@final
@dataclass(frozen=True, slots=True, kw_only=True)
class Preflight:
    """The response to a preflight, sent by the adapter without calling the app.

    ``native`` holds ``headers`` as WSGI native strings, converted once.
    """

    status: int
    headers: Block
    body: bytes
    native: NativeBlock = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "native", _to_native(self.headers))

    @property
    def allowed(self) -> bool:
        return self.status == 200


# A response's Vary value merged with Origin, by value: the few values a site's layers and
# apps set are worked out once. The cache is bounded, so odd values cannot fill memory.
_VARY_CACHE_ENTRIES = 256
_vary_merged: dict[bytes, bytes] = {}
_native_vary_merged: dict[str, str] = {}


def _vary_with_origin(value: bytes) -> bytes:
    merged = _vary_merged.get(value)
    if merged is None:
        merged = get(merge_vary([(b"vary", value)], (b"Origin",)), b"vary") or value
        if len(_vary_merged) < _VARY_CACHE_ENTRIES:
            _vary_merged[value] = merged
    return merged


def _native_vary_with_origin(value: str) -> str:
    merged = _native_vary_merged.get(value)
    if merged is None:
        merged = _vary_with_origin(value.encode("latin-1")).decode("latin-1")
        if len(_native_vary_merged) < _VARY_CACHE_ENTRIES:
            _native_vary_merged[value] = merged
    return merged


def _canonical(name: str) -> str:
    return "-".join(part.capitalize() for part in name.split("-"))


def _to_native(fields: Block) -> NativeBlock:
    return tuple((_canonical(n.decode("latin-1")), v.decode("latin-1")) for n, v in fields)


@dataclass(frozen=True, slots=True, kw_only=True)
class CORSPolicy:
    """A validated, precomputed CORS configuration; build it with :meth:`from_options`.

    ``decide`` (or ``decide_headers`` for a raw header list) is all an adapter calls per
    request. The policy holds no per-request state and is safe to share between threads.
    """

    allow_all_origins: bool
    allow_credentials: bool
    allow_private_network: bool
    origin_regex: re.Pattern[str] | None
    paths: re.Pattern[str] | None
    warnings: tuple[str, ...]
    # Precomputed answers, keyed by the raw bytes the request carries.
    _no_origin: HeaderBlock | None = field(repr=False)
    _denied: HeaderBlock = field(repr=False)
    _star: HeaderBlock | None = field(repr=False)
    _actual: dict[bytes, HeaderBlock] = field(repr=False)
    _origin_fields: dict[bytes, Block] = field(repr=False)
    _any_method: bool = field(repr=False)
    _methods: frozenset[bytes] = field(repr=False)
    _methods_field: Block = field(repr=False)
    _any_header: bool = field(repr=False)
    _headers: frozenset[bytes] = field(repr=False)
    _headers_field: Block = field(repr=False)
    _expose: Block = field(repr=False)
    _vary: Block = field(repr=False)
    _preflight_tail: Block = field(repr=False)
    _ok: dict[bytes, Preflight] = field(repr=False)
    _star_ok: Preflight | None = field(repr=False)
    _rejections: tuple[Preflight, ...] = field(repr=False)

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
    ) -> CORSPolicy:
        """Validate Starlette's ``CORSMiddleware`` options (plus ``paths``) and precompute.

        Raises TypeError or ValueError, naming the option, for a configuration that cannot work.
        """
        origins = _strings("allow_origins", allow_origins)
        methods = _strings("allow_methods", allow_methods)
        headers = _strings("allow_headers", allow_headers)
        exposed = _strings("expose_headers", expose_headers)
        credentials = _flag("allow_credentials", allow_credentials)
        private_network = _flag("allow_private_network", allow_private_network)
        if isinstance(max_age, bool) or not isinstance(max_age, int):
            raise TypeError(f"max_age must be an int number of seconds, got {max_age!r}.")
        if max_age < 0:
            raise ValueError(f"max_age must be zero or more seconds, got {max_age!r}.")
        regex = _pattern("allow_origin_regex", allow_origin_regex)
        path_regex = _pattern("paths", paths)
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

        allow_all = "*" in origins
        star = allow_all and not credentials
        warnings: list[str] = []
        if allow_all and credentials:
            warnings.append(
                "CORS allow_origins contains '*' and allow_credentials is True: every site's "
                "origin is echoed with Access-Control-Allow-Credentials: true, so any website "
                "can read responses made with the user's cookies. List the trusted origins "
                "instead."
            )

        vary: Block = () if star else (_VARY_ORIGIN,)
        expose: Block = ((_ACEH, ", ".join(_unique(exposed)).encode()),) if exposed else ()
        credential: Block = (_CREDENTIALS,) if credentials else ()

        origin_fields: dict[bytes, Block] = {}
        actual: dict[bytes, HeaderBlock] = {}
        if not star:
            for origin in _unique(origins):
                if origin != "*":
                    raw = origin.encode()
                    origin_fields[raw] = ((_ACAO, raw), *credential)
                    actual[raw] = HeaderBlock((*origin_fields[raw], *expose, *vary))

        any_method = "*" in methods
        normalized = _unique(m.upper() if m.upper() in NORMALIZED_METHODS else m for m in methods)
        method_set = frozenset(m.encode() for m in normalized)
        method_field: Block = () if any_method else ((_ACAM, ", ".join(normalized).encode()),)

        any_header = "*" in headers
        header_set = SAFELISTED_HEADERS | {h.lower().encode() for h in headers}
        header_field: Block = () if any_header else ((_ACAH, b", ".join(sorted(header_set))),)

        # Fetch §3.2.3: a preflight's answer depends on the request's method and headers, and
        # (unless every origin gets "*") on its origin; the private-network request header only
        # matters when the policy can grant it.
        preflight_vary = [b"Access-Control-Request-Method", b"Access-Control-Request-Headers"]
        if not star:
            preflight_vary.insert(0, b"Origin")
        if private_network:
            preflight_vary.append(b"Access-Control-Request-Private-Network")
        vary_field: Block = ((b"vary", b", ".join(preflight_vary)),)
        tail: Block = ((_ACMA, b"%d" % max_age), *vary_field, *_plain(_OK_BODY))

        # The answers to the common preflight (allowed method, listed headers, no private
        # network) are built once per configured origin.
        static = (*method_field, *header_field, *tail)
        ok = {
            raw: Preflight(status=200, headers=(*fields, *static), body=_OK_BODY)
            for raw, fields in origin_fields.items()
        }
        star_ok = Preflight(status=200, headers=(_STAR, *static), body=_OK_BODY) if star else None

        rejections = []
        for mask in range(8):
            failed = [name for bit, name in enumerate(_FAILURE_NAMES) if mask & (1 << bit)]
            body = ("Disallowed CORS " + ", ".join(failed)).encode()
            rejections.append(
                Preflight(status=400, headers=(*vary_field, *_plain(body)), body=body)
            )

        return cls(
            allow_all_origins=allow_all,
            allow_credentials=credentials,
            allow_private_network=private_network,
            origin_regex=regex,
            paths=path_regex,
            warnings=tuple(warnings),
            _no_origin=None if star else HeaderBlock(vary),
            _denied=HeaderBlock(vary),
            _star=HeaderBlock((_STAR, *expose)) if star else None,
            _actual=actual,
            _origin_fields=origin_fields,
            _any_method=any_method,
            _methods=method_set,
            _methods_field=method_field,
            _any_header=any_header,
            _headers=header_set,
            _headers_field=header_field,
            _expose=expose,
            _vary=vary,
            _preflight_tail=tail,
            _ok=ok,
            _star_ok=star_ok,
            _rejections=tuple(rejections),
        )

    def applies(self, path: str) -> bool:
        """Whether CORS covers ``path`` (always, unless ``paths`` is set)."""
        return self.paths is None or self.paths.match(path) is not None

    def classify(
        self, method: str, path: str, origin: bytes | None, request_method: bytes | None
    ) -> RequestKind:
        """Whether a request is a preflight, an actual CORS request, or neither."""
        if origin is None or not self.applies(path):
            return RequestKind.NONE
        # Fetch §3.2.2: a CORS-preflight request is an OPTIONS request whose headers include
        # `Access-Control-Request-Method` (and `Origin`, as every CORS request does).
        if method == "OPTIONS" and request_method is not None:
            return RequestKind.PREFLIGHT
        return RequestKind.ACTUAL

    def decide(
        self,
        method: str,
        path: str,
        origin: bytes | None,
        request_method: bytes | None = None,
        request_headers: bytes | None = None,
        private_network: bytes | None = None,
    ) -> Preflight | HeaderBlock | None:
        """The answer for one request.

        ``None``: call the app and leave its response alone. A ``HeaderBlock``: call the app and
        ``apply`` the block to its response headers (a crash response included). A
        ``Preflight``: send it; the app is not called. Header values are the raw request
        bytes; ``request_headers`` is every Access-Control-Request-Headers line joined by ",".
        """
        if self.paths is not None and self.paths.match(path) is None:
            return None
        if origin is None:
            return self._no_origin
        if method == "OPTIONS" and request_method is not None:
            return self.preflight(origin, request_method, request_headers, private_network)
        return self.actual(origin)

    def decide_headers(
        self, method: str, path: str, headers: Headers
    ) -> Preflight | HeaderBlock | None:
        """``decide`` for a raw request header list (lower-case names, as ASGI carries them)."""
        if self.paths is not None and self.paths.match(path) is None:
            return None
        origin = None
        for name, value in headers:
            if name == b"origin":
                origin = value
                break
        if origin is None:
            return self._no_origin
        if method != "OPTIONS":
            return self.actual(origin)
        request_method = request_headers = private_network = None
        for name, value in headers:
            if name == b"access-control-request-method":
                if request_method is None:
                    request_method = value
            elif name == b"access-control-request-headers":
                request_headers = (
                    value if request_headers is None else request_headers + b"," + value
                )
            elif name == b"access-control-request-private-network" and private_network is None:
                private_network = value
        if request_method is None:
            return self.actual(origin)
        return self.preflight(origin, request_method, request_headers, private_network)

    def actual(self, origin: bytes) -> HeaderBlock:
        """The fields for a non-preflight request carrying ``origin``."""
        block = self._actual.get(origin)
        if block is not None:
            return block
        if self._star is not None:
            return self._star
        fields = self._dynamic_origin(origin)
        if fields is None:
            return self._denied
        return HeaderBlock((*fields, *self._expose, *self._vary))

    def preflight(
        self,
        origin: bytes,
        request_method: bytes,
        request_headers: bytes | None = None,
        private_network: bytes | None = None,
    ) -> Preflight:
        """The response to a preflight from ``origin`` (the raw header values)."""
        # Private Network Access §3.2: the preflight carries
        # `Access-Control-Request-Private-Network: true`; the server opts in by answering
        # `Access-Control-Allow-Private-Network: true`. Without the opt-in the header is simply
        # not sent and the browser enforces its own rule.
        pna = self.allow_private_network and private_network == b"true"
        failed = 0
        ready: Preflight | None = None
        fields = self._origin_fields.get(origin)
        if fields is not None:
            ready = self._ok.get(origin)
        elif self._star is not None:
            fields, ready = (_STAR,), self._star_ok
        else:
            fields = self._dynamic_origin(origin)
            if fields is None:
                fields = ()
                failed |= 1

        # Fetch §4.8 (CORS-preflight fetch): "If request's method is not in methods [...] and
        # methods does not contain `*`, return a network error." Method names are compared
        # case-sensitively.
        method_field = self._methods_field
        if self._any_method:
            if _TOKEN.fullmatch(request_method) is None:
                failed |= 2
            else:
                method_field = ((_ACAM, request_method),)
        elif request_method not in self._methods:
            failed |= 2

        # Fetch §4.8: "For each unsafeName of the CORS-unsafe request-header names with
        # request's header list, if unsafeName is not a byte-case-insensitive match for an item
        # in headerNames [...] return a network error."
        header_field = self._headers_field
        if request_headers:
            if self._any_header:
                names = [n for p in request_headers.lower().split(b",") if (n := p.strip(b" \t"))]
                if all(_TOKEN.fullmatch(name) for name in names):
                    if names:
                        header_field = ((_ACAH, b", ".join(names)),)
                else:
                    failed |= 4
            else:
                allowed = self._headers
                for part in request_headers.lower().split(b","):
                    name = part.strip(b" \t")
                    if name and name not in allowed:
                        failed |= 4
                        break

        if failed:
            # A rejection names what failed but does not advertise the policy: no allowed
            # methods, headers or origin for a client to probe.
            return self._rejections[failed]
        if (
            ready is not None
            and not pna
            and method_field is self._methods_field
            and header_field is self._headers_field
        ):
            return ready
        extra = _PNA if pna else ()
        return Preflight(
            status=200,
            headers=(*fields, *method_field, *header_field, *extra, *self._preflight_tail),
            body=_OK_BODY,
        )

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
