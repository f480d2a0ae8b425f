"""Starlette's ``tests/middleware/test_cors.py``, test by test, against each target.

The app behind the middleware answers "Homepage" (as ``PlainTextResponse``) to any method.
"""

from __future__ import annotations

from typing import Any

import pytest

from tests.integration.starlette_dropin.harness import (
    TARGETS,
    Reply,
    Req,
    build,
    client,
    known,
    text,
)

pytestmark = pytest.mark.parametrize("target", TARGETS)

# What Starlette 1.10 puts in every preflight answer's Vary (its stored test files, older and
# newer, say "Origin" alone or fewer members; 1.10's middleware sends these four).
PREFLIGHT_VARY = {
    "Origin",
    "Access-Control-Request-Method",
    "Access-Control-Request-Headers",
    "Access-Control-Request-Private-Network",
}
SAFELISTED_AND_EXAMPLE = "Accept, Accept-Language, Content-Language, Content-Type, X-Example"


@pytest.fixture(autouse=True)
def _known(request: pytest.FixtureRequest) -> None:
    known(request)


def homepage(request: Req) -> Reply:
    return text("Homepage")


def cors(target: str, endpoint: Any = homepage, **options: Any) -> Any:
    return client(target, build(target, endpoint, ("cors", options)))


def vary(response: Any) -> set[str]:
    return {value.strip() for value in response.headers.get("vary", "").split(",") if value}


def test_cors_allow_all(target: str) -> None:
    app = cors(
        target,
        allow_origins=["*"],
        allow_headers=["*"],
        allow_methods=["*"],
        expose_headers=["X-Status"],
        allow_credentials=True,
    )
    preflight = app.options(
        "/",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-Example",
        },
    )
    assert (preflight.status_code, preflight.text) == (200, "OK")
    assert preflight.headers["access-control-allow-origin"] == "https://example.org"
    assert preflight.headers["access-control-allow-headers"] == "X-Example"
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert vary(preflight) == PREFLIGHT_VARY

    for headers in (
        {"Origin": "https://example.org"},
        {"Origin": "https://example.org", "Cookie": "star_cookie=sugar"},
    ):
        simple = app.get("/", headers=headers)
        assert (simple.status_code, simple.text) == (200, "Homepage")
        assert simple.headers["access-control-allow-origin"] == "https://example.org"
        assert simple.headers["access-control-expose-headers"] == "X-Status"
        assert simple.headers["access-control-allow-credentials"] == "true"

    plain = app.get("/")
    assert (plain.status_code, plain.text) == (200, "Homepage")
    assert "access-control-allow-origin" not in plain.headers


def test_cors_allow_all_except_credentials(target: str) -> None:
    app = cors(
        target,
        allow_origins=["*"],
        allow_headers=["*"],
        allow_methods=["*"],
        expose_headers=["X-Status"],
    )
    preflight = app.options(
        "/",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-Example",
        },
    )
    assert (preflight.status_code, preflight.text) == (200, "OK")
    assert preflight.headers["access-control-allow-origin"] == "*"
    assert preflight.headers["access-control-allow-headers"] == "X-Example"
    assert "access-control-allow-credentials" not in preflight.headers
    assert vary(preflight) == PREFLIGHT_VARY

    simple = app.get("/", headers={"Origin": "https://example.org"})
    assert (simple.status_code, simple.text) == (200, "Homepage")
    assert simple.headers["access-control-allow-origin"] == "*"
    assert simple.headers["access-control-expose-headers"] == "X-Status"
    assert "access-control-allow-credentials" not in simple.headers

    plain = app.get("/")
    assert (plain.status_code, plain.text) == (200, "Homepage")
    assert "access-control-allow-origin" not in plain.headers


def test_cors_allow_specific_origin(target: str) -> None:
    app = cors(
        target, allow_origins=["https://example.org"], allow_headers=["X-Example", "Content-Type"]
    )
    preflight = app.options(
        "/",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-Example, Content-Type",
        },
    )
    assert (preflight.status_code, preflight.text) == (200, "OK")
    assert preflight.headers["access-control-allow-origin"] == "https://example.org"
    assert preflight.headers["access-control-allow-headers"] == SAFELISTED_AND_EXAMPLE
    assert "access-control-allow-credentials" not in preflight.headers

    simple = app.get("/", headers={"Origin": "https://example.org"})
    assert (simple.status_code, simple.text) == (200, "Homepage")
    assert simple.headers["access-control-allow-origin"] == "https://example.org"
    assert "access-control-allow-credentials" not in simple.headers

    plain = app.get("/")
    assert (plain.status_code, plain.text) == (200, "Homepage")
    assert "access-control-allow-origin" not in plain.headers


def test_cors_disallowed_preflight(target: str) -> None:
    app = cors(target, allow_origins=["https://example.org"], allow_headers=["X-Example"])
    refused = app.options(
        "/",
        headers={
            "Origin": "https://another.org",
            "Access-Control-Request-Method": "POST",
            "Access-Control-Request-Headers": "X-Nope",
        },
    )
    assert (refused.status_code, refused.text) == (400, "Disallowed CORS origin, method, headers")
    assert "access-control-allow-origin" not in refused.headers

    # Several refused headers are named once (Starlette's PR 1199).
    refused = app.options(
        "/",
        headers={
            "Origin": "https://example.org",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-Nope-1, X-Nope-2",
        },
    )
    assert refused.text == "Disallowed CORS headers"


def test_preflight_allows_request_origin_if_origins_wildcard_and_credentials_allowed(
    target: str,
) -> None:
    app = cors(target, allow_origins=["*"], allow_methods=["POST"], allow_credentials=True)
    preflight = app.options(
        "/", headers={"Origin": "https://example.org", "Access-Control-Request-Method": "POST"}
    )
    assert preflight.status_code == 200
    assert preflight.headers["access-control-allow-origin"] == "https://example.org"
    assert preflight.headers["access-control-allow-credentials"] == "true"
    assert vary(preflight) == PREFLIGHT_VARY


def test_cors_preflight_allow_all_methods(target: str) -> None:
    app = cors(target, allow_origins=["*"], allow_methods=["*"])
    for method in ("DELETE", "GET", "HEAD", "OPTIONS", "PATCH", "POST", "PUT", "QUERY"):
        preflight = app.options(
            "/", headers={"Origin": "https://example.org", "Access-Control-Request-Method": method}
        )
        assert preflight.status_code == 200
        assert method in preflight.headers["access-control-allow-methods"]


def test_cors_allow_all_methods(target: str) -> None:
    app = cors(target, allow_origins=["*"], allow_methods=["*"])
    origin = {"Origin": "https://example.org"}
    for method in ("PATCH", "POST", "PUT"):
        assert app.request(method, "/", headers=origin, json={}).status_code == 200
    for method in ("DELETE", "GET", "HEAD", "OPTIONS"):
        assert app.request(method, "/", headers=origin).status_code == 200


def test_cors_allow_origin_regex(target: str) -> None:
    app = cors(
        target,
        allow_headers=["X-Example", "Content-Type"],
        allow_origin_regex="https://.*",
        allow_credentials=True,
    )
    for headers in (
        {"Origin": "https://example.org"},
        {"Origin": "https://example.org", "Cookie": "star_cookie=sugar"},
    ):
        simple = app.get("/", headers=headers)
        assert (simple.status_code, simple.text) == (200, "Homepage")
        assert simple.headers["access-control-allow-origin"] == "https://example.org"
        assert simple.headers["access-control-allow-credentials"] == "true"

    # Enforcement is the browser's: a refused origin only gets no Allow-Origin.
    other = app.get("/", headers={"Origin": "http://example.org"})
    assert (other.status_code, other.text) == (200, "Homepage")
    assert "access-control-allow-origin" not in other.headers

    preflight = app.options(
        "/",
        headers={
            "Origin": "https://another.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-Example, content-type",
        },
    )
    assert (preflight.status_code, preflight.text) == (200, "OK")
    assert preflight.headers["access-control-allow-origin"] == "https://another.com"
    assert preflight.headers["access-control-allow-headers"] == SAFELISTED_AND_EXAMPLE
    assert preflight.headers["access-control-allow-credentials"] == "true"

    refused = app.options(
        "/",
        headers={
            "Origin": "http://another.com",
            "Access-Control-Request-Method": "GET",
            "Access-Control-Request-Headers": "X-Example",
        },
    )
    assert (refused.status_code, refused.text) == (400, "Disallowed CORS origin")
    assert "access-control-allow-origin" not in refused.headers


def test_cors_allow_origin_regex_fullmatch(target: str) -> None:
    app = cors(
        target,
        allow_headers=["X-Example", "Content-Type"],
        allow_origin_regex=r"https://.*\.example.org",
    )
    allowed = app.get("/", headers={"Origin": "https://subdomain.example.org"})
    assert (allowed.status_code, allowed.text) == (200, "Homepage")
    assert allowed.headers["access-control-allow-origin"] == "https://subdomain.example.org"
    assert "access-control-allow-credentials" not in allowed.headers

    other = app.get("/", headers={"Origin": "https://subdomain.example.org.hacker.com"})
    assert (other.status_code, other.text) == (200, "Homepage")
    assert "access-control-allow-origin" not in other.headers


def test_cors_vary_header_defaults_to_origin(target: str) -> None:
    app = cors(target, allow_origins=["https://example.org"])
    answer = app.get("/", headers={"Origin": "https://example.org"})
    assert answer.status_code == 200
    assert answer.headers["vary"] == "Origin"


def homepage_varying(request: Req) -> Reply:
    return text("Homepage", headers={"Vary": "Accept-Encoding"})


def test_cors_vary_header_is_set_for_non_credentialed_request(target: str) -> None:
    app = cors(target, homepage_varying, allow_origins=["*"])
    answer = app.get("/", headers={"Origin": "https://someplace.org"})
    assert answer.status_code == 200
    assert answer.headers["vary"] == "Accept-Encoding, Origin"


def test_cors_vary_header_is_properly_set_for_credentialed_request(target: str) -> None:
    app = cors(target, homepage_varying, allow_origins=["*"], allow_credentials=True)
    answer = app.get("/", headers={"Origin": "https://someplace.org"})
    assert answer.status_code == 200
    assert answer.headers["vary"] == "Accept-Encoding, Origin"


def test_cors_vary_header_is_properly_set_when_allow_origins_is_not_wildcard(target: str) -> None:
    app = cors(target, homepage_varying, allow_origins=["https://example.org"])
    answer = app.get("/", headers={"Origin": "https://example.org"})
    assert answer.status_code == 200
    assert answer.headers["vary"] == "Accept-Encoding, Origin"


def test_cors_allowed_origin_does_not_leak_between_requests(target: str) -> None:
    app = cors(target, allow_origins=["https://example.org"])
    first = app.get("/", headers={"Origin": "https://example.org"})
    assert first.headers["access-control-allow-origin"] == "https://example.org"
    other = app.get("/", headers={"Origin": "https://other.org"})
    assert "access-control-allow-origin" not in other.headers
    again = app.get("/", headers={"Origin": "https://example.org"})
    assert again.headers["access-control-allow-origin"] == "https://example.org"


def test_cors_private_network_access_allowed(target: str) -> None:
    app = cors(target, allow_origins=["*"], allow_methods=["*"], allow_private_network=True)
    without = {"Origin": "https://example.org", "Access-Control-Request-Method": "GET"}
    with_pna = {**without, "Access-Control-Request-Private-Network": "true"}

    asked = app.options("/", headers=with_pna)
    assert (asked.status_code, asked.text) == (200, "OK")
    assert asked.headers["access-control-allow-private-network"] == "true"

    not_asked = app.options("/", headers=without)
    assert (not_asked.status_code, not_asked.text) == (200, "OK")
    assert "access-control-allow-private-network" not in not_asked.headers

    # Not a preflight: no Allow-Private-Network, but the usual CORS headers.
    simple = app.get("/", headers=with_pna)
    assert (simple.status_code, simple.text) == (200, "Homepage")
    assert "access-control-allow-private-network" not in simple.headers
    assert "access-control-allow-origin" in simple.headers


def test_cors_private_network_access_disallowed(target: str) -> None:
    app = cors(target, allow_origins=["*"], allow_methods=["*"], allow_private_network=False)
    without = {"Origin": "https://example.org", "Access-Control-Request-Method": "GET"}
    with_pna = {**without, "Access-Control-Request-Private-Network": "true"}

    not_asked = app.options("/", headers=without)
    assert (not_asked.status_code, not_asked.text) == (200, "OK")
    assert "access-control-allow-private-network" not in not_asked.headers

    asked = app.options("/", headers=with_pna)
    assert (asked.status_code, asked.text) == (400, "Disallowed CORS private-network")
    assert "access-control-allow-private-network" not in asked.headers


@pytest.mark.parametrize(
    ("allow_origins", "allow_credentials", "origin", "expected_origin", "vary_headers"),
    [
        pytest.param(
            ["https://example.org"],
            False,
            "https://example.org",
            "https://example.org",
            ["Accept-Encoding", "Accept-Language"],
            id="listed-allowed",
        ),
        pytest.param(
            ["https://example.org"],
            False,
            "https://denied.example",
            None,
            ["Accept-Encoding", "Accept-Language"],
            id="listed-denied",
        ),
        pytest.param(["https://example.org"], False, None, None, [], id="listed-no-origin"),
        pytest.param(["*"], False, "https://example.org", "*", ["*"], id="star-vary-star"),
        pytest.param(["*"], False, None, None, [], id="star-no-origin"),
        pytest.param(
            ["*"], True, "https://example.org", "https://example.org", [], id="star-credentials"
        ),
        pytest.param(["*"], True, None, None, [], id="star-credentials-no-origin"),
    ],
)
def test_cors_vary_origin(
    target: str,
    allow_origins: list[str],
    allow_credentials: bool,
    origin: str | None,
    expected_origin: str | None,
    vary_headers: list[str],
) -> None:
    def endpoint(request: Req) -> Reply:
        reply = text("Homepage")
        reply.headers += [("vary", value) for value in vary_headers]  # one field each
        return reply

    app = cors(target, endpoint, allow_origins=allow_origins, allow_credentials=allow_credentials)
    answer = app.get("/", headers={"Origin": origin} if origin is not None else {})
    assert (answer.status_code, answer.text) == (200, "Homepage")
    assert vary(answer) == {*vary_headers, "Origin"}
    assert answer.headers.get("access-control-allow-origin") == expected_origin
    credentials = "true" if allow_credentials and origin is not None else None
    assert answer.headers.get("access-control-allow-credentials") == credentials


def test_cors_vary_origin_on_options_without_origin(target: str) -> None:
    def endpoint(request: Req) -> Reply:
        return text("Application OPTIONS")

    app = cors(target, endpoint, allow_origins=["https://allowed.example"])
    answer = app.options("/", headers={"Access-Control-Request-Method": "GET"})
    assert (answer.status_code, answer.text) == (200, "Application OPTIONS")
    assert answer.headers["vary"] == "Origin"


@pytest.mark.parametrize("cors_outermost", [True, False])
def test_cors_vary_origin_with_gzip(target: str, cors_outermost: bool) -> None:
    def endpoint(request: Req) -> Reply:
        return text("Homepage", headers={"Vary": "Accept-Language"})

    layers = [
        ("cors", {"allow_origins": ["https://allowed.example"]}),
        ("gzip", {"minimum_size": 0}),
    ]
    if not cors_outermost:
        layers.reverse()
    app = client(target, build(target, endpoint, *layers))
    answer = app.get("/", headers={"Origin": "https://allowed.example", "Accept-Encoding": "gzip"})
    assert (answer.status_code, answer.text) == (200, "Homepage")
    assert answer.headers["content-encoding"] == "gzip"
    assert answer.headers["access-control-allow-origin"] == "https://allowed.example"
    assert vary(answer) == {"Accept-Language", "Accept-Encoding", "Origin"}
