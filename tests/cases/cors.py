"""CORS case table: one request, one app response, the exact expected answer.

Plain data shared by ``tests/core/test_cors.py`` (run against ``CORSPolicy``) and the parity
tests (run through the WSGI and ASGI classes). Headers are native-string pairs with lower-case
names, as the test drivers use them; the core tests encode them as latin-1.

``CASES`` covers every rule of SPEC's CORS section; ``SECURITY_CASES`` holds origins that must
not pass an allow-list of ``https://example.com`` plus ``allow_origin_regex=r"https://.*\\.example\\.com"``
(each as a simple request and as a preflight), and ``SECURITY_ALLOWED`` the controls that must.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

import pytest

Pairs = tuple[tuple[str, str], ...]

# The test app's response (the parity vectors' default Reply).
APP_STATUS = 200
APP_HEADERS: Pairs = (("content-type", "text/plain; charset=utf-8"),)
APP_BODY = b"hello"


@dataclass(frozen=True, kw_only=True)
class Case:
    options: dict[str, Any]
    method: str = "GET"
    path: str = "/"
    headers: Pairs = ()
    app_headers: Pairs = APP_HEADERS
    # Expected: the app is called and its response gets exactly ``response_headers``, or the
    # middleware answers a preflight itself.
    app_called: bool = True
    status: int = APP_STATUS
    response_headers: Pairs = field(default=())
    body: bytes = APP_BODY


def actual(options: dict[str, Any], origin: str | None, *added: tuple[str, str], **kw: Any) -> Case:
    """A non-preflight request; ``added`` are the fields appended to the app's headers."""
    headers = kw.pop("headers", ())
    if origin is not None:
        headers = (("origin", origin), *headers)
    app_headers = kw.pop("app_headers", APP_HEADERS)
    expected = kw.pop("expected", None)
    if expected is None:
        expected = (*app_headers, *added)
    return Case(
        options=options,
        headers=headers,
        app_headers=app_headers,
        response_headers=expected,
        **kw,
    )


def preflight(
    options: dict[str, Any],
    origin: str,
    method: str,
    request_headers: str | None = None,
    *,
    status: int,
    headers: Pairs,
    body: bytes,
    extra: Pairs = (),
    path: str = "/",
) -> Case:
    sent: Pairs = (("origin", origin), ("access-control-request-method", method))
    if request_headers is not None:
        sent = (*sent, ("access-control-request-headers", request_headers))
    return Case(
        options=options,
        method="OPTIONS",
        path=path,
        headers=(*sent, *extra),
        app_called=False,
        status=status,
        response_headers=headers,
        body=body,
    )


def _plain(body: bytes) -> Pairs:
    return (("content-type", "text/plain; charset=utf-8"), ("content-length", str(len(body))))


# Every answer to a preflight, granted or refused, whatever the options (as Starlette 1.10).
PREFLIGHT_VARY = (
    "vary",
    "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
    "Access-Control-Request-Private-Network",
)


def ok(*fields: tuple[str, str], max_age: str = "600") -> Pairs:
    return (*fields, ("access-control-max-age", max_age), PREFLIGHT_VARY, *_plain(b"OK"))


def rejected(what: str) -> dict[str, Any]:
    body = f"Disallowed CORS {what}".encode()
    return {"status": 400, "headers": (PREFLIGHT_VARY, *_plain(body)), "body": body}


OK = {"status": 200, "body": b"OK"}

APP = "https://app.example"
ADMIN = "https://admin.example"
EVIL = "https://evil.example"

ONE: dict[str, Any] = {"allow_origins": [APP]}
FULL: dict[str, Any] = {
    "allow_origins": [APP, ADMIN],
    "allow_methods": ["GET", "POST", "delete"],
    "allow_headers": ["X-Custom", "Authorization"],
    "allow_credentials": True,
    "expose_headers": ["X-Request-ID", "X-Total"],
    "max_age": 300,
}
STAR: dict[str, Any] = {"allow_origins": ["*"], "expose_headers": ["X-Total"]}
STAR_CREDENTIALS: dict[str, Any] = {"allow_origins": ["*"], "allow_credentials": True}
REGEX: dict[str, Any] = {"allow_origin_regex": r"https://.*\.example\.com"}
NULL: dict[str, Any] = {"allow_origins": ["null"]}
ANY: dict[str, Any] = {"allow_origins": [APP], "allow_methods": ["*"], "allow_headers": ["*"]}
PNA: dict[str, Any] = {"allow_origins": [APP], "allow_private_network": True}
PATHS: dict[str, Any] = {"allow_origins": [APP], "paths": r"/api/"}

ACAO = "access-control-allow-origin"
ACAC = "access-control-allow-credentials"
ACAM = "access-control-allow-methods"
ACAH = "access-control-allow-headers"
ACEH = "access-control-expose-headers"
VARY = ("vary", "Origin")
# Starlette's spelling and order: its safelisted names and the configured ones as written,
# sorted by code point.
FULL_ACAH = "Accept, Accept-Language, Authorization, Content-Language, Content-Type, X-Custom"
ONE_ACAH = "Accept, Accept-Language, Content-Language, Content-Type"
FULL_OK = ok(
    (ACAO, APP), (ACAC, "true"), (ACAM, "GET, POST, DELETE"), (ACAH, FULL_ACAH), max_age="300"
)

CASES = [
    # --- No Origin: the app answers; only Vary: Origin is merged.
    pytest.param(actual(ONE, None, VARY), id="no-origin-vary-only"),
    pytest.param(actual(STAR, None, VARY), id="no-origin-star-vary-only"),
    pytest.param(
        actual(
            ONE,
            None,
            app_headers=(*APP_HEADERS, ("vary", "Accept-Encoding")),
            expected=(*APP_HEADERS, ("vary", "Accept-Encoding, Origin")),
        ),
        id="no-origin-vary-merged",
    ),
    pytest.param(
        actual(ONE, None, app_headers=(("vary", "*"), *APP_HEADERS)),
        id="no-origin-vary-star-kept",
    ),
    pytest.param(
        actual(ONE, None, app_headers=(("vary", "origin"), *APP_HEADERS)),
        id="no-origin-vary-already-there",
    ),
    # --- Simple and actual requests.
    pytest.param(actual(ONE, APP, (ACAO, APP), VARY), id="simple-allowed-single-origin-vary"),
    pytest.param(
        actual(FULL, ADMIN, (ACAO, ADMIN), (ACAC, "true"), (ACEH, "X-Request-ID, X-Total"), VARY),
        id="simple-allowed-credentials-expose",
    ),
    pytest.param(actual(ONE, EVIL, VARY), id="simple-disallowed-vary-only"),
    pytest.param(actual(FULL, EVIL, VARY), id="simple-disallowed-no-credentials"),
    pytest.param(
        actual(
            FULL,
            APP,
            (ACAO, APP),
            (ACAC, "true"),
            (ACEH, "X-Request-ID, X-Total"),
            VARY,
            method="DELETE",
        ),
        id="actual-delete-allowed",
    ),
    pytest.param(
        actual(ONE, APP, (ACAO, APP), VARY, method="OPTIONS"),
        id="options-without-request-method-reaches-app",
    ),
    pytest.param(
        actual(
            ONE,
            APP,
            app_headers=(*APP_HEADERS, (ACAO, "https://stale.example"), (ACAC, "true")),
            expected=(*APP_HEADERS, (ACAO, APP), VARY),
        ),
        id="app-cors-header-replaced",
    ),
    pytest.param(
        actual(
            ONE,
            APP,
            app_headers=(("vary", "Accept-Encoding"), *APP_HEADERS),
            expected=(("vary", "Accept-Encoding, Origin"), *APP_HEADERS, (ACAO, APP)),
        ),
        id="app-vary-merged",
    ),
    pytest.param(
        # A Vary first and a CORS field after it: the whole merge, not the lone Vary's shortcut.
        actual(
            ONE,
            APP,
            app_headers=(
                ("vary", "Accept-Encoding"),
                *APP_HEADERS,
                (ACAO, "https://stale.example"),
            ),
            expected=(("vary", "Accept-Encoding, Origin"), *APP_HEADERS, (ACAO, APP)),
        ),
        id="app-vary-and-cors-header-merged",
    ),
    pytest.param(
        actual(
            ONE,
            APP,
            app_headers=(("vary", "Cookie"), *APP_HEADERS, ("vary", "Accept")),
            expected=(("vary", "Cookie, Accept, Origin"), *APP_HEADERS, (ACAO, APP)),
        ),
        id="app-vary-lines-coalesced",
    ),
    pytest.param(
        actual(ONE, APP, (ACAO, APP), VARY, app_headers=(("content-type", "application/json"),)),
        id="app-response-other-type",
    ),
    # --- "*" and credentials.
    # Fetch 3.2.5: the "*" answer still varies with Origin (none without it), as Starlette's.
    pytest.param(actual(STAR, APP, (ACAO, "*"), (ACEH, "X-Total"), VARY), id="star-literal-vary"),
    pytest.param(
        actual(STAR, "null", (ACAO, "*"), (ACEH, "X-Total"), VARY), id="star-null-gets-star"
    ),
    pytest.param(
        actual(
            STAR,
            APP,
            app_headers=(("vary", "*"), *APP_HEADERS),
            expected=(("vary", "*"), *APP_HEADERS, (ACAO, "*"), (ACEH, "X-Total")),
        ),
        id="star-app-vary-star-kept",
    ),
    pytest.param(
        actual(STAR_CREDENTIALS, EVIL, (ACAO, EVIL), (ACAC, "true"), VARY),
        id="star-credentials-echoes-origin",
    ),
    pytest.param(actual(STAR_CREDENTIALS, "null", VARY), id="star-credentials-null-not-echoed"),
    pytest.param(
        actual(
            {"allow_origins": ["*", "null"], "allow_credentials": True},
            "null",
            (ACAO, "null"),
            (ACAC, "true"),
            VARY,
        ),
        id="star-credentials-null-listed",
    ),
    # --- Regex and null.
    pytest.param(
        actual(REGEX, "https://api.example.com", (ACAO, "https://api.example.com"), VARY),
        id="regex-allowed",
    ),
    pytest.param(
        actual(REGEX, "https://api.example.com.evil.net", VARY), id="regex-prefix-match-denied"
    ),
    pytest.param(actual(NULL, "null", (ACAO, "null"), VARY), id="null-listed-allowed"),
    pytest.param(actual(ONE, "null", VARY), id="null-not-listed-denied"),
    # --- Path scoping.
    pytest.param(actual(PATHS, APP, (ACAO, APP), VARY, path="/api/items"), id="paths-inside"),
    pytest.param(actual(PATHS, APP, path="/static/app.js"), id="paths-outside-untouched"),
    pytest.param(actual(PATHS, None, path="/static/app.js"), id="paths-outside-no-vary"),
    pytest.param(
        actual(
            PATHS,
            APP,
            method="OPTIONS",
            path="/static/app.js",
            headers=(("access-control-request-method", "GET"),),
        ),
        id="paths-outside-preflight-reaches-app",
    ),
    pytest.param(
        preflight(
            PATHS,
            APP,
            "GET",
            path="/api/",
            **OK,
            headers=ok((ACAO, APP), (ACAM, "GET"), (ACAH, ONE_ACAH)),
        ),
        id="paths-inside-preflight",
    ),
    # --- Preflights that pass.
    pytest.param(preflight(FULL, APP, "POST", **OK, headers=FULL_OK), id="preflight-ok"),
    pytest.param(
        preflight(FULL, APP, "POST", "X-Custom, authorization", **OK, headers=FULL_OK),
        id="preflight-headers-case-insensitive",
    ),
    pytest.param(
        preflight(
            ONE,
            APP,
            "GET",
            "content-type, accept",
            **OK,
            headers=ok((ACAO, APP), (ACAM, "GET"), (ACAH, ONE_ACAH)),
        ),
        id="preflight-safelisted-headers-always-allowed",
    ),
    pytest.param(
        preflight(FULL, APP, "POST", "x-custom,,  ", **OK, headers=FULL_OK),
        id="preflight-empty-list-members-ignored",
    ),
    pytest.param(
        preflight(
            ANY,
            APP,
            "PROPFIND",
            "X-Foo, x-bar",
            **OK,
            headers=ok((ACAO, APP), (ACAM, "PROPFIND"), (ACAH, "X-Foo, x-bar")),
        ),
        id="preflight-star-methods-and-headers-echo",
    ),
    pytest.param(
        preflight(
            ANY,
            APP,
            "GET",
            "X-Requested-With,content-type ,, Authorization",
            **OK,
            headers=ok(
                (ACAO, APP), (ACAM, "GET"), (ACAH, "X-Requested-With, content-type, Authorization")
            ),
        ),
        id="preflight-star-headers-echo-as-spelled",
    ),
    pytest.param(
        preflight(ANY, APP, "GET", **OK, headers=ok((ACAO, APP), (ACAM, "GET"))),
        id="preflight-star-headers-none-requested",
    ),
    pytest.param(
        preflight(
            STAR,
            EVIL,
            "GET",
            **OK,
            headers=ok((ACAO, "*"), (ACAM, "GET"), (ACAH, ONE_ACAH)),
        ),
        id="preflight-star-origin",
    ),
    pytest.param(
        preflight(
            STAR_CREDENTIALS,
            EVIL,
            "GET",
            **OK,
            headers=ok((ACAO, EVIL), (ACAC, "true"), (ACAM, "GET"), (ACAH, ONE_ACAH)),
        ),
        id="preflight-star-credentials-echo",
    ),
    pytest.param(
        preflight(
            REGEX,
            "https://a.b.example.com",
            "GET",
            **OK,
            headers=ok((ACAO, "https://a.b.example.com"), (ACAM, "GET"), (ACAH, ONE_ACAH)),
        ),
        id="preflight-regex-allowed",
    ),
    pytest.param(
        preflight(
            NULL, "null", "GET", **OK, headers=ok((ACAO, "null"), (ACAM, "GET"), (ACAH, ONE_ACAH))
        ),
        id="preflight-null-listed",
    ),
    pytest.param(
        preflight(
            PNA,
            APP,
            "GET",
            **OK,
            extra=(("access-control-request-private-network", "true"),),
            headers=ok(
                (ACAO, APP),
                (ACAM, "GET"),
                (ACAH, ONE_ACAH),
                ("access-control-allow-private-network", "true"),
            ),
        ),
        id="preflight-private-network-allowed",
    ),
    pytest.param(
        preflight(
            ONE,
            APP,
            "GET",
            **OK,
            extra=(("access-control-request-private-network", "true"),),
            headers=ok((ACAO, APP), (ACAM, "GET"), (ACAH, ONE_ACAH)),
        ),
        id="preflight-private-network-not-enabled",
    ),
    pytest.param(
        preflight(FULL, APP, "DELETE", **OK, headers=FULL_OK),
        id="preflight-configured-method-normalized",
    ),
    pytest.param(
        preflight(
            {"allow_origins": [APP], "allow_headers": ["x-lower", "Content-Type", "X-Upper"]},
            APP,
            "GET",
            "X-LOWER, x-upper",
            **OK,
            headers=ok(
                (ACAO, APP),
                (ACAM, "GET"),
                (ACAH, "Accept, Accept-Language, Content-Language, Content-Type, X-Upper, x-lower"),
            ),
        ),
        id="preflight-allow-headers-starlette-order",
    ),
    # --- Preflights that fail: 400 naming what failed, the policy not advertised.
    pytest.param(
        preflight(FULL, EVIL, "GET", **rejected("origin")), id="preflight-disallowed-origin"
    ),
    pytest.param(
        preflight(FULL, APP, "PUT", **rejected("method")), id="preflight-disallowed-method"
    ),
    pytest.param(
        preflight(FULL, APP, "post", **rejected("method")), id="preflight-method-case-sensitive"
    ),
    pytest.param(
        preflight(ONE, APP, "POST", **rejected("method")), id="preflight-default-methods-get-only"
    ),
    pytest.param(
        preflight(FULL, APP, "GET", "x-custom, x-other", **rejected("headers")),
        id="preflight-disallowed-headers",
    ),
    pytest.param(
        preflight(FULL, EVIL, "PATCH", "x-other", **rejected("origin, method, headers")),
        id="preflight-disallowed-everything",
    ),
    pytest.param(preflight(ONE, APP, "", **rejected("method")), id="preflight-empty-method"),
    pytest.param(
        preflight(ANY, APP, "G(E)T", **rejected("method")), id="preflight-star-bad-method"
    ),
    pytest.param(
        preflight(ANY, APP, "GET", "x-a, x b", **rejected("headers")),
        id="preflight-star-headers-malformed",
    ),
    pytest.param(
        preflight(STAR_CREDENTIALS, "null", "GET", **rejected("origin")),
        id="preflight-star-credentials-null",
    ),
]


# --- Security table: nothing here may pass https://example.com + r"https://.*\.example\.com".
SECURITY: dict[str, Any] = {
    "allow_origins": ["https://example.com"],
    "allow_origin_regex": r"https://.*\.example\.com",
    "allow_methods": ["GET", "POST"],
    "allow_credentials": True,
}

HOSTILE_ORIGINS = [
    ("suffix-domain", "https://example.com.evil.com"),
    ("suffix-domain-regex", "https://api.example.com.evil.com"),
    ("suffix-domain-dash", "https://example.com-evil.com"),
    ("prefix-label", "https://evilexample.com"),
    ("prefix-dash", "https://evil-example.com"),
    ("path-smuggle", "https://evil.com/.example.com"),
    ("query-smuggle", "https://evil.com?.example.com"),
    ("fragment-smuggle", "https://evil.com#.example.com"),
    ("backslash-smuggle", "https://evil.com\\.example.com"),
    ("other-scheme", "http://example.com"),
    ("other-scheme-regex", "http://api.example.com"),
    ("other-port", "https://example.com:8443"),
    ("other-port-regex", "https://api.example.com:8443"),
    ("explicit-default-port", "https://example.com:443"),
    ("userinfo", "https://user@example.com"),
    ("userinfo-host-swap", "https://example.com@evil.com"),
    ("userinfo-regex", "https://evil.com@api.example.com"),
    ("trailing-dot", "https://example.com."),
    ("trailing-dot-regex", "https://api.example.com."),
    ("trailing-slash", "https://example.com/"),
    ("uppercase-host", "https://EXAMPLE.com"),
    ("uppercase-scheme", "HTTPS://example.com"),
    ("uppercase-regex", "https://API.example.com"),
    ("empty-label-regex", "https://.example.com"),
    ("two-origins-regex", "https://a.example.com https://b.example.com"),
    ("list-regex", "https://a.example.com, https://evil.com.example.com"),
    ("leading-space", " https://example.com"),
    ("null", "null"),
    ("empty", ""),
    ("wildcard", "*"),
    ("scheme-only", "https://"),
    ("file", "file://"),
    ("10kb", "https://" + "a" * 10240 + ".example.com"),
    ("non-ascii-utf8", "https://\xc3\xa9.example.com"),
    ("non-ascii-byte", "https://\xff.example.com"),
    ("non-ascii-exact", "https://example.com\xa0"),
]

SECURITY_CASES = [
    param
    for name, origin in HOSTILE_ORIGINS
    for param in (
        pytest.param(actual(SECURITY, origin, VARY), id=f"hostile-simple-{name}"),
        pytest.param(
            preflight(SECURITY, origin, "GET", **rejected("origin")),
            id=f"hostile-preflight-{name}",
        ),
    )
]

SECURITY_ALLOWED = [
    pytest.param(
        actual(SECURITY, origin, (ACAO, origin), (ACAC, "true"), VARY), id=f"control-{name}"
    )
    for name, origin in [
        ("exact", "https://example.com"),
        ("subdomain", "https://api.example.com"),
        ("deep-subdomain", "https://a.b.example.com"),
        ("punycode", "https://xn--bcher-kva.example.com"),
        ("subdomain-looks-like-other", "https://evil.com.example.com"),
    ]
]


# --- Websocket handshakes (SPEC, WebSocket: Cross-Site WebSocket Hijacking). ASGI only: run
# against the core (``CORSPolicy.websocket``) and through the ASGI class with fake scopes.


@dataclass(frozen=True, kw_only=True)
class Handshake:
    options: dict[str, Any]
    # The handshake's header lines; None: a scope without a "headers" key.
    headers: Pairs | None = ()
    path: str = "/ws"
    refused: bool


def handshake(options: dict[str, Any], *origins: str, refused: bool, **kw: Any) -> Handshake:
    """A handshake carrying one Origin line per entry of ``origins`` (none: no Origin)."""
    headers = kw.pop("headers", (("host", "api.example"), ("upgrade", "websocket")))
    return Handshake(
        options=options,
        headers=(*headers, *(("origin", origin) for origin in origins)),
        refused=refused,
        **kw,
    )


WEBSOCKET_CASES = [
    # Allowed by the same origin rules as HTTP.
    pytest.param(handshake(ONE, APP, refused=False), id="listed-origin-passes"),
    pytest.param(handshake(REGEX, "https://chat.example.com", refused=False), id="regex-passes"),
    pytest.param(handshake(NULL, "null", refused=False), id="null-listed-passes"),
    pytest.param(handshake(STAR, EVIL, refused=False), id="star-passes-any"),
    pytest.param(handshake(STAR, "null", refused=False), id="star-passes-null"),
    pytest.param(handshake(STAR_CREDENTIALS, EVIL, refused=False), id="star-credentials-passes"),
    # Not allowed: refused before the app runs.
    pytest.param(handshake(ONE, EVIL, refused=True), id="other-origin-refused"),
    pytest.param(handshake(ONE, "null", refused=True), id="null-not-listed-refused"),
    pytest.param(
        handshake(REGEX, "https://chat.example.com.evil.net", refused=True),
        id="regex-prefix-refused",
    ),
    pytest.param(handshake({}, APP, refused=True), id="no-origins-configured-refused"),
    pytest.param(handshake(STAR_CREDENTIALS, "null", refused=True), id="star-credentials-null"),
    # Malformed values never match a list or a regex.
    pytest.param(handshake(ONE, APP + "/", refused=True), id="malformed-trailing-slash"),
    pytest.param(handshake(ONE, "HTTPS://app.example", refused=True), id="malformed-upper-case"),
    pytest.param(handshake(REGEX, "https://a.example.com\xff", refused=True), id="malformed-byte"),
    pytest.param(handshake(ONE, "", refused=True), id="malformed-empty"),
    pytest.param(
        handshake(STAR_CREDENTIALS, "https://" + "a" * 600, refused=True), id="malformed-long"
    ),
    # Repeated Origin lines: honoured only when they all say the same.
    pytest.param(handshake(ONE, APP, APP, refused=False), id="repeated-same-allowed-passes"),
    pytest.param(handshake(ONE, APP, EVIL, refused=True), id="repeated-different-refused"),
    pytest.param(handshake(ONE, EVIL, APP, refused=True), id="repeated-different-reversed"),
    pytest.param(handshake(STAR, APP, EVIL, refused=True), id="repeated-different-star"),
    pytest.param(handshake(ONE, EVIL, EVIL, refused=True), id="repeated-same-refused"),
    # No Origin: a client that is not a browser.
    pytest.param(handshake(ONE, refused=False), id="no-origin-passes"),
    pytest.param(Handshake(options=ONE, headers=None, refused=False), id="no-headers-key"),
    # Option and path scoping.
    pytest.param(
        handshake({**ONE, "websocket_origins": False}, EVIL, refused=False),
        id="guard-off-passes",
    ),
    pytest.param(handshake(PATHS, EVIL, path="/ws", refused=False), id="paths-outside-passes"),
    pytest.param(handshake(PATHS, EVIL, path="/api/ws", refused=True), id="paths-inside-refused"),
    pytest.param(handshake(PATHS, APP, path="/api/ws", refused=False), id="paths-inside-allowed"),
]
