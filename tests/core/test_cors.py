"""CORSPolicy: the case tables, configuration errors, warnings and the header merge."""

from __future__ import annotations

import re
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.core.cors import CORSPolicy, HeaderBlock
from middleware.core.headers import Headers, merge_vary
from middleware.core.responses import Response
from tests.cases.cors import (
    APP,
    APP_BODY,
    APP_STATUS,
    CASES,
    SECURITY,
    SECURITY_ALLOWED,
    SECURITY_CASES,
    WEBSOCKET_CASES,
    Case,
    Handshake,
    Pairs,
)


def _raw(pairs: Pairs) -> Headers:
    return [(name.encode("latin-1"), value.encode("latin-1")) for name, value in pairs]


def _run(case: Case) -> tuple[bool, int, Headers, bytes]:
    """What the adapters do with a policy: ask it, then answer or call the app."""
    policy = CORSPolicy.from_options(**case.options)
    answer = policy.decide_headers(case.method, case.path, _raw(case.headers))
    if isinstance(answer, Response):
        return False, answer.status, list(answer.headers), answer.body
    headers = _raw(case.app_headers)
    if answer is not None:
        headers = answer.apply(headers)
    return True, APP_STATUS, headers, APP_BODY


def _check(case: Case) -> None:
    called, status, headers, body = _run(case)
    assert (called, status) == (case.app_called, case.status)
    assert headers == _raw(case.response_headers)
    assert body == case.body


@pytest.mark.parametrize("case", CASES)
def test_cors_case(case: Case) -> None:
    _check(case)


@pytest.mark.parametrize("case", SECURITY_CASES)
def test_cors_hostile_origin_denied(case: Case) -> None:
    _check(case)


# --- Websocket handshakes: the same origin rule, a 403 or a close 1008, and a log line.


@pytest.mark.parametrize("case", WEBSOCKET_CASES)
def test_cors_websocket_case(case: Handshake) -> None:
    policy = CORSPolicy.from_options(**case.options)
    refusal = policy.websocket(case.path, _raw(case.headers or ()))
    assert (refusal is not None) is case.refused
    if refusal is not None:
        assert refusal.close_code == 1008
        assert (refusal.response.status, refusal.response.body) == (403, b"Disallowed CORS origin")
        assert refusal.response.headers == (
            (b"content-type", b"text/plain; charset=utf-8"),
            (b"content-length", b"22"),
        )
        assert refusal.message.startswith(f"Refused a websocket handshake on {case.path!r}: ")


@pytest.mark.parametrize("case", WEBSOCKET_CASES)
def test_cors_websocket_and_http_share_the_origin_rule(case: Handshake) -> None:
    # One rule for both: a single Origin line is refused on a websocket exactly when an HTTP
    # request from it gets no Allow-Origin (inside paths, with the guard on).
    policy = CORSPolicy.from_options(**case.options)
    origins = [value for name, value in case.headers or () if name == "origin"]
    if len(origins) != 1 or not policy.websocket_origins or not policy.applies(case.path):
        return
    origin = origins[0].encode("latin-1")
    allowed = policy.allowed_origin(origin) is not None
    assert allowed is not case.refused
    names = [name for name, _ in policy.actual(origin).fields]
    assert (b"access-control-allow-origin" in names) is allowed


def test_cors_websocket_log_line_names_path_and_origin() -> None:
    policy = CORSPolicy.from_options(allow_origins=[APP])
    refusal = policy.websocket("/chat", [(b"origin", b"https://evil.example")])
    assert refusal is not None
    assert refusal.message == (
        "Refused a websocket handshake on '/chat': Origin 'https://evil.example' is not allowed "
        "(websocket_origins)."
    )
    # Hostile values are shortened and their control characters escaped.
    refusal = policy.websocket("/chat", [(b"origin", b"https://x\r\n\x00" + b"a" * 500)])
    assert refusal is not None
    assert "\\r\\n\\x00" in refusal.message and "..." in refusal.message
    assert "\r" not in refusal.message and len(refusal.message) < 250
    refusal = policy.websocket("/", [(b"origin", APP.encode()), (b"origin", b"null")])
    assert refusal is not None
    assert "2 different Origin fields ('https://app.example', 'null')" in refusal.message


def test_cors_websocket_origins_must_be_a_flag() -> None:
    with pytest.raises(TypeError, match="websocket_origins must be True or False, got 'no'"):
        CORSPolicy.from_options(websocket_origins="no")
    assert CORSPolicy.from_options().websocket_origins is True


@pytest.mark.parametrize("case", SECURITY_ALLOWED)
def test_cors_security_controls_allowed(case: Case) -> None:
    _check(case)


@pytest.mark.parametrize("case", CASES + SECURITY_CASES)
def test_cors_decide_matches_decide_headers(case: Case) -> None:
    # decide() takes the values a WSGI adapter reads from environ; decide_headers() the raw
    # list an ASGI adapter has. Both must give the same answer.
    policy = CORSPolicy.from_options(**case.options)
    raw = _raw(case.headers)
    found = {name: value for name, value in reversed(raw)}
    answer = policy.decide(
        case.method,
        case.path,
        found.get(b"origin"),
        found.get(b"access-control-request-method"),
        found.get(b"access-control-request-headers"),
        found.get(b"access-control-request-private-network"),
    )
    assert answer == policy.decide_headers(case.method, case.path, raw)


# --- Request classification


@pytest.mark.parametrize(
    ("method", "path", "origin", "request_method", "kind"),
    [
        pytest.param("GET", "/api/x", None, None, "none", id="no-origin"),
        pytest.param("GET", "/other", b"https://a.example", None, "none", id="off-path"),
        pytest.param("GET", "/api/x", b"https://a.example", None, "actual", id="get"),
        pytest.param("OPTIONS", "/api/x", b"https://a.example", None, "actual", id="bare-options"),
        pytest.param("POST", "/api/x", b"https://a.example", b"GET", "actual", id="post-with-acrm"),
        pytest.param(
            "OPTIONS", "/api/x", b"https://a.example", b"PUT", "preflight", id="preflight"
        ),
        pytest.param("OPTIONS", "/api/x", None, b"PUT", "none", id="preflight-no-origin"),
    ],
)
def test_cors_request_kinds(
    method: str, path: str, origin: bytes | None, request_method: bytes | None, kind: str
) -> None:
    # A preflight is answered by the policy; an actual request gets Allow-Origin added to the
    # app's response; anything else gets at most Vary.
    policy = CORSPolicy.from_options(allow_origins=["https://a.example"], paths="/api/")
    answer = policy.decide(method, path, origin, request_method)
    assert isinstance(answer, Response) is (kind == "preflight")
    names = [name for name, _ in answer.fields] if isinstance(answer, HeaderBlock) else []
    assert (b"access-control-allow-origin" in names) is (kind == "actual")
    assert set(names) <= {b"access-control-allow-origin", b"vary"}


def test_cors_paths_is_anchored_at_start_only() -> None:
    policy = CORSPolicy.from_options(paths=r"/api")
    assert policy.applies("/api/items")
    assert policy.applies("/apix")
    assert not policy.applies("/v1/api")


def test_cors_paths_accepts_compiled_pattern() -> None:
    policy = CORSPolicy.from_options(paths=re.compile(r"/API/", re.IGNORECASE))
    assert policy.applies("/api/")
    assert policy.paths is not None and policy.paths.flags & re.IGNORECASE


# --- The no-Origin path allocates nothing and the common answers are prebuilt


def test_cors_no_origin_answer_is_one_shared_object() -> None:
    policy = CORSPolicy.from_options(allow_origins=[APP])
    first = policy.decide("GET", "/", None)
    assert isinstance(first, HeaderBlock)
    assert policy.decide("POST", "/x", None) is first
    assert first.fields == ((b"vary", b"Origin"),)


def test_cors_star_varies_with_origin_with_or_without_one() -> None:
    # Fetch 3.2.5: a "*" answer still differs between a request with Origin and one without,
    # so both carry Vary: Origin (Starlette's choice).
    policy = CORSPolicy.from_options(allow_origins=["*"])
    without = policy.decide("GET", "/", None)
    assert isinstance(without, HeaderBlock) and without.fields == ((b"vary", b"Origin"),)
    star = policy.decide("GET", "/", b"https://a.example")
    assert isinstance(star, HeaderBlock)
    assert star.fields == ((b"access-control-allow-origin", b"*"), (b"vary", b"Origin"))
    # "*" echoes nothing, so any Origin value gets the same literal answer.
    assert policy.decide("GET", "/", b"null") is star
    assert policy.decide("GET", "/", b"https://a.example/path") is star


def test_cors_nothing_to_do_only_outside_paths() -> None:
    policy = CORSPolicy.from_options(allow_origins=["*"], paths="/api/")
    assert policy.decide("GET", "/static/x", b"https://a.example") is None
    assert policy.decide_headers("GET", "/static/x", []) is None


def test_cors_configured_origin_answers_are_prebuilt() -> None:
    policy = CORSPolicy.from_options(allow_origins=[APP], allow_methods=["GET", "POST"])
    origin = APP.encode()
    assert policy.actual(origin) is policy.actual(origin)
    assert policy.preflight(origin, b"POST") is policy.preflight(origin, b"POST")
    assert policy.preflight(origin, b"POST", b"content-type") is policy.preflight(origin, b"GET")
    # A rejection is built from what failed: the same answer for every refused origin.
    rejection = policy.preflight(b"https://evil.example", b"GET")
    assert rejection == policy.preflight(b"https://other.example", b"GET")
    assert (rejection.status, policy.preflight(origin, b"GET").status) == (400, 200)


def test_cors_star_preflight_answer_is_prebuilt() -> None:
    policy = CORSPolicy.from_options(allow_origins=["*"])
    assert policy.preflight(b"https://a.example", b"GET") is policy.preflight(b"null", b"GET")


def test_cors_regex_origin_checked_per_request() -> None:
    policy = CORSPolicy.from_options(allow_origin_regex=r"https://(a|b)\.example")
    a = policy.actual(b"https://a.example")
    b = policy.actual(b"https://b.example")
    assert (a.fields[0], b.fields[0]) == (
        (b"access-control-allow-origin", b"https://a.example"),
        (b"access-control-allow-origin", b"https://b.example"),
    )


def test_cors_star_with_credentials_echoes_only_well_formed_origins() -> None:
    # "*" plus credentials echoes any origin a browser could send, but never junk: a 10 KB or
    # non-ASCII value is not reflected into a response header.
    policy = CORSPolicy.from_options(allow_origins=["*"], allow_credentials=True)
    assert policy.actual(b"https://anything.example:8080").fields[0][1] == (
        b"https://anything.example:8080"
    )
    for junk in (b"https://" + b"a" * 10240, b"https://\xff.example", b"https://a.example/x", b""):
        assert policy.actual(junk).fields == ((b"vary", b"Origin"),)


def test_cors_request_headers_lines_joined() -> None:
    policy = CORSPolicy.from_options(allow_origins=[APP], allow_headers=["x-a", "x-b"])
    headers = [
        (b"origin", APP.encode()),
        (b"access-control-request-method", b"GET"),
        (b"access-control-request-headers", b"x-a"),
        (b"access-control-request-headers", b"x-b"),
    ]
    answer = policy.decide_headers("OPTIONS", "/", headers)
    assert isinstance(answer, Response) and answer.status == 200
    headers.append((b"access-control-request-headers", b"x-c"))
    answer = policy.decide_headers("OPTIONS", "/", headers)
    assert isinstance(answer, Response) and answer.body == b"Disallowed CORS headers"


def test_cors_first_origin_and_request_method_win() -> None:
    policy = CORSPolicy.from_options(allow_origins=[APP])
    headers = [
        (b"origin", APP.encode()),
        (b"origin", b"https://evil.example"),
        (b"access-control-request-method", b"GET"),
        (b"access-control-request-method", b"DELETE"),
    ]
    answer = policy.decide_headers("OPTIONS", "/", headers)
    assert isinstance(answer, Response) and answer.status == 200


def test_cors_private_network_value_must_be_true() -> None:
    policy = CORSPolicy.from_options(allow_origins=[APP], allow_private_network=True)
    granted = policy.preflight(APP.encode(), b"GET", None, b"true")
    refused = policy.preflight(APP.encode(), b"GET", None, b"yes")
    pna = (b"access-control-allow-private-network", b"true")
    assert pna in granted.headers and pna not in refused.headers


def test_cors_preflight_rejection_does_not_advertise_policy() -> None:
    policy = CORSPolicy.from_options(**SECURITY)
    answer = policy.preflight(b"https://evil.example", b"GET", b"x-custom")
    names = {name for name, _ in answer.headers}
    assert names == {b"vary", b"content-type", b"content-length"}


def test_cors_header_block_merge_keeps_input_unchanged() -> None:
    policy = CORSPolicy.from_options(allow_origins=[APP])
    original = [(b"vary", b"Cookie"), (b"access-control-allow-origin", b"*")]
    copy = list(original)
    merged = policy.actual(APP.encode()).apply(original)
    assert original == copy
    assert merged == [(b"vary", b"Cookie, Origin"), (b"access-control-allow-origin", APP.encode())]


def test_cors_denied_origin_keeps_app_cors_headers() -> None:
    # The policy only replaces the app's CORS fields when it answers for the origin itself.
    policy = CORSPolicy.from_options(allow_origins=[APP])
    app = [(b"access-control-allow-origin", b"https://partner.example")]
    assert policy.actual(b"https://partner.example").apply(app) == [*app, (b"vary", b"Origin")]


# --- Construction: warnings and validation


def test_cors_star_with_credentials_warns() -> None:
    policy = CORSPolicy.from_options(allow_origins=["*"], allow_credentials=True)
    assert len(policy.warnings) == 1
    assert "any website can read responses" in policy.warnings[0]
    assert "allow_credentials" in policy.warnings[0]


@pytest.mark.parametrize(
    "options",
    [
        pytest.param({}, id="defaults"),
        pytest.param({"allow_origins": ["*"]}, id="star-alone"),
        pytest.param({"allow_origins": [APP], "allow_credentials": True}, id="listed-credentials"),
    ],
)
def test_cors_no_warning(options: dict[str, Any]) -> None:
    assert CORSPolicy.from_options(**options).warnings == ()


def test_cors_defaults_match_starlette() -> None:
    policy = CORSPolicy.from_options()
    assert not policy.allow_all_origins and not policy.allow_credentials
    assert not policy.allow_private_network
    assert policy.origin_regex is None and policy.paths is None
    # Nothing is allowed; only GET may be preflighted; Max-Age 600.
    assert policy.actual(APP.encode()).fields == ((b"vary", b"Origin"),)
    answer = CORSPolicy.from_options(allow_origins=[APP]).preflight(APP.encode(), b"GET")
    assert (b"access-control-allow-methods", b"GET") in answer.headers
    assert (b"access-control-max-age", b"600") in answer.headers


def test_cors_max_age_zero_sent() -> None:
    answer = CORSPolicy.from_options(allow_origins=[APP], max_age=0).preflight(APP.encode(), b"GET")
    assert (b"access-control-max-age", b"0") in answer.headers


def test_cors_duplicates_collapse() -> None:
    policy = CORSPolicy.from_options(
        allow_origins=[APP, APP],
        allow_methods=["GET", "get", "POST"],
        allow_headers=["X-A", "x-a"],
        expose_headers=["X-B", "X-B"],
    )
    answer = policy.preflight(APP.encode(), b"GET")
    assert (b"access-control-allow-methods", b"GET, POST") in answer.headers
    # Starlette's rule: each distinct string once, so two spellings of one name both stay.
    assert (
        b"access-control-allow-headers",
        b"Accept, Accept-Language, Content-Language, Content-Type, X-A, x-a",
    ) in answer.headers
    assert (b"access-control-expose-headers", b"X-B") in policy.actual(APP.encode()).fields


def test_cors_accepts_sets_and_generators() -> None:
    policy = CORSPolicy.from_options(
        allow_origins={APP}, allow_methods=(m for m in ["GET"]), allow_headers=frozenset()
    )
    assert policy.actual(APP.encode()).fields[0] == (b"access-control-allow-origin", APP.encode())


@pytest.mark.parametrize(
    ("options", "error", "message"),
    [
        pytest.param(
            {"allow_origins": "https://a.example"},
            TypeError,
            "allow_origins must be a collection of strings such as ['https://a.example'], not a "
            "single string, got 'https://a.example'.",
            id="origins-bare-string",
        ),
        pytest.param(
            {"allow_origins": 42},
            TypeError,
            "allow_origins must be a collection of strings, got 42.",
            id="origins-not-iterable",
        ),
        pytest.param(
            {"allow_origins": [b"https://a.example"]},
            TypeError,
            "allow_origins must contain only strings, got b'https://a.example' in "
            "[b'https://a.example'].",
            id="origins-bytes-item",
        ),
        pytest.param(
            {"allow_origins": ["https://a.example/"]},
            ValueError,
            "allow_origins entries must be '*', 'null' or an origin exactly as browsers send it "
            "(scheme://host[:port]: lower-case, ASCII with internationalized names in punycode, "
            "no path or trailing slash), got 'https://a.example/'.",
            id="origin-trailing-slash",
        ),
        pytest.param(
            {"allow_origins": ["https://A.example"]},
            ValueError,
            "got 'https://A.example'.",
            id="origin-uppercase",
        ),
        pytest.param(
            {"allow_origins": ["a.example"]}, ValueError, "got 'a.example'.", id="origin-no-scheme"
        ),
        pytest.param(
            {"allow_origins": ["https://bücher.example"]},
            ValueError,
            "punycode",
            id="origin-unicode",
        ),
        pytest.param(
            {"allow_origins": ["https://" + "a" * 600]},
            ValueError,
            "allow_origins entries must be",
            id="origin-too-long",
        ),
        pytest.param(
            {"allow_origins": ["https://a.example:443"]},
            ValueError,
            "allow_origins entry 'https://a.example:443' names the default port, which browsers "
            "leave out of the Origin header; use 'https://a.example'.",
            id="origin-default-port",
        ),
        pytest.param(
            {"allow_origins": ["http://a.example:99999"]},
            ValueError,
            "allow_origins entry 'http://a.example:99999' has an invalid port '99999'.",
            id="origin-port-range",
        ),
        pytest.param(
            {"allow_origins": ["http://a.example:080"]},
            ValueError,
            "has an invalid port '080'.",
            id="origin-port-leading-zero",
        ),
        pytest.param(
            {"allow_methods": ["GET", "BAD METHOD"]},
            ValueError,
            "allow_methods entries must be HTTP method names or '*', got 'BAD METHOD'.",
            id="method-not-token",
        ),
        pytest.param(
            {"allow_methods": "GET"},
            TypeError,
            "allow_methods must be a collection of strings such as ['GET']",
            id="methods-bare-string",
        ),
        pytest.param(
            {"allow_headers": ["X-Ok", "X:Bad"]},
            ValueError,
            "allow_headers entries must be header names or '*', got 'X:Bad'.",
            id="header-not-token",
        ),
        pytest.param(
            {"expose_headers": ["X-Ä"]},
            ValueError,
            "expose_headers entries must be header names or '*', got 'X-Ä'.",
            id="expose-not-ascii",
        ),
        pytest.param(
            {"allow_credentials": "yes"},
            TypeError,
            "allow_credentials must be True or False, got 'yes'.",
            id="credentials-not-bool",
        ),
        pytest.param(
            {"allow_private_network": 1},
            TypeError,
            "allow_private_network must be True or False, got 1.",
            id="private-network-not-bool",
        ),
        pytest.param(
            {"max_age": "600"},
            TypeError,
            "max_age must be an int number of seconds, got '600'.",
            id="max-age-string",
        ),
        pytest.param({"max_age": True}, TypeError, "max_age must be an int", id="max-age-bool"),
        pytest.param(
            {"max_age": -1},
            ValueError,
            "max_age must be zero or more seconds, got -1.",
            id="max-age-negative",
        ),
        pytest.param(
            {"allow_origin_regex": 42},
            TypeError,
            "allow_origin_regex must be a string or compiled pattern, got 42.",
            id="regex-type",
        ),
        pytest.param(
            {"allow_origin_regex": re.compile(rb"https://.*")},
            TypeError,
            "allow_origin_regex must be a str pattern, not a bytes pattern",
            id="regex-bytes-pattern",
        ),
        pytest.param(
            {"allow_origin_regex": "https://(unclosed"},
            ValueError,
            "allow_origin_regex is not a valid regular expression (missing ), unterminated "
            "subpattern at position 8), got 'https://(unclosed'.",
            id="regex-invalid",
        ),
        pytest.param(
            {"paths": "/api/["},
            ValueError,
            "paths is not a valid regular expression",
            id="paths-invalid",
        ),
        pytest.param(
            {"paths": ["/api/"]},
            TypeError,
            "paths must be a string or compiled pattern, got ['/api/'].",
            id="paths-list",
        ),
    ],
)
def test_cors_bad_configuration(
    options: dict[str, Any], error: type[Exception], message: str
) -> None:
    with pytest.raises(error) as caught:
        CORSPolicy.from_options(**options)
    assert message in str(caught.value)


@pytest.mark.parametrize(
    "origin",
    [
        "http://localhost:8000",
        "http://127.0.0.1:5173",
        "http://[::1]:3000",
        "https://xn--bcher-kva.example",
        "chrome-extension://abcdefghijklmnop",
        "null",
        "*",
    ],
)
def test_cors_origin_forms_accepted(origin: str) -> None:
    CORSPolicy.from_options(allow_origins=[origin])


# --- Properties: for any input, no fooling and no duplicates

_SECURITY = CORSPolicy.from_options(**SECURITY)
_SUBDOMAIN = re.compile(rb"https://[a-z0-9_-]+(\.[a-z0-9_-]+)*\.example\.com")
# Pieces that hostile origins are built from, so generated origins stay close to the edge.
_PIECES = st.sampled_from(
    [b"https://", b"http://", b"example.com", b".example.com", b"evil", b".", b"-", b"/", b"@",
     b":443", b":8443", b"?", b"#", b" ", b",", b"A", b"x", b"\xff", b"\xc3\xa9", b"null", b"\\"]
)  # fmt: skip


@settings(max_examples=400)
@given(st.lists(_PIECES, max_size=8).map(b"".join) | st.binary(max_size=64))
def test_cors_only_the_listed_origin_or_a_true_subdomain_passes(origin: bytes) -> None:
    allowed = origin == b"https://example.com" or _SUBDOMAIN.fullmatch(origin) is not None
    fields = _SECURITY.actual(origin).fields
    assert ((b"access-control-allow-origin", origin) in fields) is allowed
    assert (_SECURITY.preflight(origin, b"GET").status == 200) is allowed


_APP_HEADERS = st.lists(
    st.tuples(
        st.sampled_from(
            [b"vary", b"access-control-allow-origin", b"access-control-allow-credentials",
             b"access-control-expose-headers", b"content-type", b"set-cookie"]
        ),
        st.sampled_from([b"*", b"Origin", b"origin, Cookie", b"Accept-Encoding", b"x", b""]),
    ),
    max_size=6,
)  # fmt: skip


@settings(max_examples=300)
@given(_APP_HEADERS, st.sampled_from([APP.encode(), b"https://evil.example", None]))
def test_cors_apply_never_duplicates(app_headers: Headers, origin: bytes | None) -> None:
    policy = CORSPolicy.from_options(allow_origins=[APP], allow_credentials=True)
    block = policy.decide("GET", "/", origin)
    assert isinstance(block, HeaderBlock)
    out = block.apply(app_headers)
    names = [name for name, _ in out]
    if origin == APP.encode():
        assert names.count(b"access-control-allow-origin") == 1
        assert names.count(b"access-control-allow-credentials") == 1
    vary = [value for name, value in out if name == b"vary"]
    members = [m.strip().lower() for v in vary for m in v.split(b",") if m.strip()]
    if b"*" not in members:
        assert len(vary) == 1 and members.count(b"origin") >= 1
    # The app's other fields are untouched, in order.
    assert [h for h in out if h[0] in (b"content-type", b"set-cookie")] == [
        h for h in app_headers if h[0] in (b"content-type", b"set-cookie")
    ]


_STAR_POLICY = CORSPolicy.from_options(allow_origins=["*"], expose_headers=["X-Request-ID"])
_LISTED_POLICY = CORSPolicy.from_options(
    allow_origins=[APP], allow_credentials=True, expose_headers=["X-Request-ID"]
)
_BLOCKS = [
    _LISTED_POLICY.actual(APP.encode()),  # Allow-Origin, credentials, expose, Vary: Origin
    _LISTED_POLICY.actual(b"https://evil.example"),  # Vary: Origin only
    _STAR_POLICY.actual(APP.encode()),  # "*", no Vary
]


@settings(max_examples=300)
@given(_APP_HEADERS, st.sampled_from(_BLOCKS))
def test_cors_apply_shortcuts_match_the_general_rule(
    app_headers: Headers, block: HeaderBlock
) -> None:
    # apply() takes shortcuts (nothing managed: append; one Vary field and nothing else
    # managed: extend it in place); every answer must be the one the general rule gives: the
    # app's CORS fields replaced when the block answers for the origin, Vary merged.
    copy = list(app_headers)
    ours = [field for field in block.fields if field[0] != b"vary"]
    answer = {b"access-control-allow-origin", b"access-control-allow-credentials",
              b"access-control-expose-headers"} if ours else set()  # fmt: skip
    expected = [field for field in app_headers if field[0] not in answer] + ours
    if len(ours) != len(block.fields):
        expected = merge_vary(expected, (b"Origin",))
    assert block.apply(app_headers) == expected
    assert block.merge(app_headers) == expected
    assert app_headers == copy


def test_cors_one_vary_field_gains_origin_in_place() -> None:
    block = _LISTED_POLICY.actual(APP.encode())
    app_headers = [(b"content-type", b"text/html"), (b"vary", b"Accept-Encoding")]
    assert block.apply(app_headers) == [
        (b"content-type", b"text/html"),
        (b"vary", b"Accept-Encoding, Origin"),
        (b"access-control-allow-origin", APP.encode()),
        (b"access-control-allow-credentials", b"true"),
        (b"access-control-expose-headers", b"X-Request-ID"),
    ]
    assert app_headers[1] == (b"vary", b"Accept-Encoding")
