"""Properties of CORSPolicy beyond tests/core/test_cors.py: for any request, the answer never
names another origin, always varies on Origin ("*" included: Fetch 3.2.5), agrees between its
two entry points, and grants a preflight exactly when the Fetch rules allow it; a websocket
handshake is refused exactly when an HTTP request from its origin gets no Allow-Origin."""

from __future__ import annotations

import re

from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.core.cors import SAFELISTED_HEADERS, CORSPolicy, HeaderBlock
from middleware.core.headers import split_list
from middleware.core.responses import Response
from tests.core.strategies import binary

LISTED = "https://app.example"
REGEX = r"https://[a-z]+\.example\.org"
_WELL_FORMED = re.compile(
    rb"[a-z][a-z0-9+.\-]*://(?:[a-z0-9_\-]+(?:\.[a-z0-9_\-]+)*|\[[0-9a-f:.]+\])(?::[0-9]{1,5})?"
)

POLICIES = {
    "listed": CORSPolicy.from_options(allow_origins=[LISTED]),
    "listed-credentials": CORSPolicy.from_options(
        allow_origins=[LISTED, "null"], allow_credentials=True, allow_methods=["GET", "POST"]
    ),
    "regex": CORSPolicy.from_options(
        allow_origin_regex=REGEX, allow_headers=["X-Custom"], allow_methods=["*"]
    ),
    "star": CORSPolicy.from_options(allow_origins=["*"], allow_headers=["*"]),
    "star-credentials": CORSPolicy.from_options(
        allow_origins=["*"], allow_credentials=True, allow_private_network=True
    ),
}

ORIGINS = st.one_of(
    st.sampled_from(
        [
            LISTED.encode(),
            b"null",
            b"https://api.example.org",
            b"https://api.example.org.evil",
            b"https://app.example/",
            b"HTTPS://APP.EXAMPLE",
            b"https://app.example:8443",
            b"http://[::1]:8000",
            b"https://evil.example",
        ]
    ),
    binary(max_size=40),
)
METHODS = st.sampled_from(["GET", "POST", "OPTIONS", "PUT", "DELETE", "get", "PROPFIND"])
REQUEST_METHODS = st.one_of(
    st.sampled_from([b"GET", b"POST", b"PUT", b"get", b"PATCH", b"X Y", b""]), binary(max_size=8)
)
HEADER_NAMES = st.sampled_from(
    [b"x-custom", b"X-Custom", b"content-type", b"Accept", b"x-other", b"a b", b"", b"\xff"]
)
REQUEST_HEADERS = st.one_of(
    st.none(), st.lists(HEADER_NAMES, max_size=4).map(b", ".join), binary(max_size=20)
)
PRIVATE = st.sampled_from([None, b"true", b"TRUE", b"false"])


LISTED_BY = {"listed": {LISTED.encode()}, "listed-credentials": {LISTED.encode(), b"null"}}


def _allowed_origin(name: str, origin: bytes) -> bool:
    policy = POLICIES[name]
    if policy.allow_all_origins and not policy.allow_credentials:
        return True  # answered with "*", which names no origin
    if origin in LISTED_BY.get(name, ()):
        return True
    # Anything else is echoed only when it is an origin as browsers write it.
    if not _WELL_FORMED.fullmatch(origin) or len(origin) > 512:
        return False
    if policy.allow_all_origins:
        return True
    regex = policy.origin_regex
    return regex is not None and regex.fullmatch(origin.decode("ascii")) is not None


def _fields(answer: Response | HeaderBlock | None) -> list[tuple[bytes, bytes]]:
    if answer is None:
        return []
    return list(answer.headers if isinstance(answer, Response) else answer.fields)


@settings(max_examples=100)
@given(
    st.sampled_from(sorted(POLICIES)),
    METHODS,
    ORIGINS | st.none(),
    REQUEST_METHODS | st.none(),
    REQUEST_HEADERS,
    PRIVATE,
)
def test_allow_origin_is_star_or_the_request_s_own_allowed_origin(
    name: str,
    method: str,
    origin: bytes | None,
    request_method: bytes | None,
    request_headers: bytes | None,
    private: bytes | None,
) -> None:
    policy = POLICIES[name]
    answer = policy.decide(method, "/", origin, request_method, request_headers, private)
    fields = _fields(answer)
    allow = [value for field, value in fields if field == b"access-control-allow-origin"]
    assert len(allow) <= 1
    if allow:
        assert origin is not None
        if allow == [b"*"]:
            assert policy.allow_all_origins and not policy.allow_credentials
        else:
            assert allow == [origin]
            assert _allowed_origin(name, origin)
    credentials = [v for f, v in fields if f == b"access-control-allow-credentials"]
    assert credentials in ([], [b"true"])
    if credentials:
        assert allow and allow != [b"*"]
    # Every answer says to caches that it depends on the origin, a literal "*" too: a request
    # without Origin gets no Allow-Origin.
    if answer is not None:
        vary = [m.lower() for f, v in fields if f == b"vary" for m in split_list(v)]
        assert b"origin" in vary


@settings(max_examples=200)
@given(st.sampled_from(sorted(POLICIES)), st.lists(ORIGINS, max_size=3))
def test_websocket_refused_exactly_when_http_gets_no_allow_origin(
    name: str, origins: list[bytes]
) -> None:
    policy = POLICIES[name]
    refusal = policy.websocket("/ws", [(b"origin", origin) for origin in origins])
    if not origins:
        assert refusal is None
        return
    allowed = b"access-control-allow-origin" in [f for f, _ in policy.actual(origins[0]).fields]
    if len(set(origins)) > 1:
        assert refusal is not None
    else:
        assert (refusal is None) is allowed
    if refusal is not None:
        assert (refusal.response.status, refusal.close_code) == (403, 1008)
        assert refusal.message.isprintable()


@settings(max_examples=60)
@given(
    st.sampled_from(sorted(POLICIES)),
    METHODS,
    ORIGINS | st.none(),
    st.lists(REQUEST_METHODS, max_size=2),
    st.lists(REQUEST_HEADERS.filter(lambda v: v is not None), max_size=2),
    PRIVATE,
)
def test_decide_and_decide_headers_agree(
    name: str,
    method: str,
    origin: bytes | None,
    request_methods: list[bytes],
    request_headers: list[bytes],
    private: bytes | None,
) -> None:
    policy = POLICIES[name]
    raw = [(b"origin", origin)] if origin is not None else []
    raw += [(b"access-control-request-method", value) for value in request_methods]
    raw += [(b"access-control-request-headers", value) for value in request_headers]
    if private is not None:
        raw.append((b"access-control-request-private-network", private))
    joined = b",".join(request_headers) if request_headers else None
    first_method = request_methods[0] if request_methods else None
    direct = policy.decide(method, "/", origin, first_method, joined, private)
    assert policy.decide_headers(method, "/", raw) == direct


@settings(max_examples=150)
@given(
    st.sampled_from(sorted(POLICIES)),
    ORIGINS,
    REQUEST_METHODS,
    REQUEST_HEADERS,
    PRIVATE,
)
def test_a_preflight_is_granted_exactly_when_origin_method_and_headers_are_allowed(
    name: str,
    origin: bytes,
    request_method: bytes,
    request_headers: bytes | None,
    private: bytes | None,
) -> None:
    policy = POLICIES[name]
    answer = policy.preflight(origin, request_method, request_headers, private)
    fields = dict(answer.headers)
    any_method = name == "regex"
    allowed_methods = {"listed": {b"GET"}, "star": {b"GET"}, "star-credentials": {b"GET"}}.get(
        name, {b"GET", b"POST"}
    )
    method_ok = (
        re.fullmatch(rb"[!#$%&'*+\-.^_`|~0-9A-Za-z]+", request_method) is not None
        if any_method
        else request_method in allowed_methods
    )
    names = (
        [n.strip(b" \t") for n in request_headers.lower().split(b",") if n.strip(b" \t")]
        if request_headers
        else []
    )
    if name == "star":
        headers_ok = all(re.fullmatch(rb"[!#$%&'*+\-.^_`|~0-9a-z]+", n) for n in names)
    else:
        extra = {b"x-custom"} if name == "regex" else set()
        headers_ok = all(n in SAFELISTED_HEADERS | extra for n in names)
    granted = _allowed_origin(name, origin) and method_ok and headers_ok
    assert (answer.status == 200) is granted
    if granted:
        assert answer.status == 200 and answer.body == b"OK"
        pna = fields.get(b"access-control-allow-private-network")
        assert (pna == b"true") is (policy.allow_private_network and private == b"true")
    else:
        # A refusal names what failed and advertises nothing a client could probe with.
        assert answer.status == 400
        assert b"access-control-allow-origin" not in fields
        assert b"access-control-allow-methods" not in fields
        assert b"access-control-allow-headers" not in fields
        assert answer.body.startswith(b"Disallowed CORS ")
