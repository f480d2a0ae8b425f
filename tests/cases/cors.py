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


def ok(*fields: tuple[str, str], max_age: str = "600", vary: str = "") -> Pairs:
    vary = vary or "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    return (
        *fields,
        ("access-control-max-age", max_age),
        ("vary", vary),
        *_plain(b"OK"),
    )


def rejected(what: str, vary: str = "") -> dict[str, Any]:
    body = f"Disallowed CORS {what}".encode()
    vary = vary or "Origin, Access-Control-Request-Method, Access-Control-Request-Headers"
    return {"status": 400, "headers": (("vary", vary), *_plain(body)), "body": body}


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
FULL_ACAH = "accept, accept-language, authorization, content-language, content-type, x-custom"
ONE_ACAH = "accept, accept-language, content-language, content-type"
FULL_OK = ok(
    (ACAO, APP), (ACAC, "true"), (ACAM, "GET, POST, DELETE"), (ACAH, FULL_ACAH), max_age="300"
)

CASES = [
    # --- No Origin: the app answers; only Vary: Origin is merged.
    pytest.param(actual(ONE, None, VARY), id="no-origin-vary-only"),
    pytest.param(actual(STAR, None), id="no-origin-star-untouched"),
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
    pytest.param(actual(STAR, APP, (ACAO, "*"), (ACEH, "X-Total")), id="star-literal-no-vary"),
    pytest.param(actual(STAR, "null", (ACAO, "*"), (ACEH, "X-Total")), id="star-null-gets-star"),
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
            headers=ok((ACAO, APP), (ACAM, "PROPFIND"), (ACAH, "x-foo, x-bar")),
        ),
        id="preflight-star-methods-and-headers-echo",
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
            headers=ok(
                (ACAO, "*"),
                (ACAM, "GET"),
                (ACAH, ONE_ACAH),
                vary="Access-Control-Request-Method, Access-Control-Request-Headers",
            ),
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
                vary="Origin, Access-Control-Request-Method, "
                "Access-Control-Request-Headers, Access-Control-Request-Private-Network",
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
