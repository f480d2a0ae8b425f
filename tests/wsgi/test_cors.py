"""CORSMiddleware rules only WSGI has: start_response, exc_info, write(), close(), str headers."""

from __future__ import annotations

import logging
from collections.abc import Iterator
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.core.cors import CORSPolicy, HeaderBlock
from middleware.core.headers import Headers
from middleware.wsgi.cors import CORSMiddleware
from tests.cases.cors import CASES, Case
from tests.drivers import call_wsgi

APP = "https://app.example"
ONE = {"allow_origins": [APP]}
ORIGIN = [("origin", APP)]


def _text(environ: Any, start_response: Any) -> list[bytes]:
    start_response("200 OK", [("Content-Type", "text/plain")])
    return [b"hello"]


def test_list_response_goes_to_the_server_as_it_is() -> None:
    body = [b"hello"]

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    seen: list[Any] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_ORIGIN": APP}
    returned = CORSMiddleware(app, **ONE)(environ, lambda s, h, e=None: seen.append((s, h)))
    assert returned is body
    assert seen == [
        (
            "200 OK",
            [
                ("Content-Type", "text/plain"),
                ("Access-Control-Allow-Origin", APP),
                ("Vary", "Origin"),
            ],
        )
    ]


def test_lazy_generator_app_gets_headers_and_is_closed() -> None:
    closed: list[bool] = []

    def app(environ: Any, start_response: Any) -> Iterator[bytes]:
        try:
            start_response("200 OK", [("Content-Type", "text/plain")])
            yield b"a"
            yield b"b"
        finally:
            closed.append(True)

    result = call_wsgi(CORSMiddleware(app, **ONE), headers=ORIGIN)
    assert result.body == b"ab" and result.chunks == [b"a", b"b"]
    assert result.header("access-control-allow-origin") == APP
    assert closed == [True]


def test_iterable_failing_before_first_byte_answers_500_with_headers(
    caplog: pytest.LogCaptureFixture,
) -> None:
    closed: list[bool] = []

    class Failing:
        def __iter__(self) -> Failing:
            return self

        def __next__(self) -> bytes:
            raise RuntimeError("template error")

        def close(self) -> None:
            closed.append(True)

    def app(environ: Any, start_response: Any) -> Failing:
        start_response("200 OK", [("Content-Type", "text/html")])
        return Failing()

    result = call_wsgi(CORSMiddleware(app, **ONE), headers=ORIGIN)
    assert result.status == 500 and result.body == b"Internal Server Error"
    assert result.header("access-control-allow-origin") == APP
    assert result.header_all("vary") == ["Origin"]
    assert result.header("content-type") == "text/plain; charset=utf-8"
    assert closed == [True]
    errors = [r for r in caplog.records if r.name == "middleware.errors"]
    assert len(errors) == 1 and errors[0].exc_info is not None


def test_app_raising_after_start_response_answers_500_once(
    caplog: pytest.LogCaptureFixture,
) -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        raise RuntimeError("late failure")

    result = call_wsgi(CORSMiddleware(app, **ONE), headers=ORIGIN)
    assert result.status == 500
    assert result.header_all("access-control-allow-origin") == [APP]
    assert result.header_all("vary") == ["Origin"]
    assert environ_flagged(caplog)


def environ_flagged(caplog: pytest.LogCaptureFixture) -> bool:
    return any(r.name == "middleware.errors" and r.levelno == logging.ERROR for r in caplog.records)


def test_exc_info_restart_gets_headers_once() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", [("Content-Type", "text/plain")])
        try:
            raise ValueError("handled by the app")
        except ValueError:
            import sys

            start_response(
                "503 Service Unavailable", [("Content-Type", "text/plain")], sys.exc_info()
            )
        return [b"busy"]

    result = call_wsgi(CORSMiddleware(app, **ONE), headers=ORIGIN)
    assert result.status == 503 and result.body == b"busy"
    assert result.header_all("access-control-allow-origin") == [APP]
    assert result.header_all("vary") == ["Origin"]


def test_write_callable_still_works() -> None:
    def app(environ: Any, start_response: Any) -> list[bytes]:
        write = start_response("200 OK", [("Content-Type", "text/plain")])
        write(b"written ")
        return [b"returned"]

    result = call_wsgi(CORSMiddleware(app, **ONE), headers=ORIGIN)
    assert result.body == b"written returned"
    assert result.header("access-control-allow-origin") == APP


def test_app_header_list_not_mutated_and_spelling_kept() -> None:
    shared = [
        ("Content-Type", "text/plain"),
        ("VARY", "Accept-Encoding"),
        ("access-control-allow-origin", "*"),
    ]
    snapshot = list(shared)

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", shared)
        return [b"x"]

    seen: list[Any] = []
    environ = {"REQUEST_METHOD": "GET", "PATH_INFO": "/", "HTTP_ORIGIN": APP}
    CORSMiddleware(app, **ONE)(environ, lambda s, h, e=None: seen.append(h))
    assert shared == snapshot
    assert seen == [
        [
            ("Content-Type", "text/plain"),
            ("VARY", "Accept-Encoding, Origin"),
            ("Access-Control-Allow-Origin", APP),
        ]
    ]


def test_preflight_native_headers_and_status_line() -> None:
    seen: list[Any] = []
    environ = {
        "REQUEST_METHOD": "OPTIONS",
        "PATH_INFO": "/",
        "HTTP_ORIGIN": APP,
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "PUT",
    }
    body = CORSMiddleware(_text, **ONE)(environ, lambda s, h, e=None: seen.append((s, h)))
    assert list(body) == [b"Disallowed CORS method"]
    status, headers = seen[0]
    assert status == "400 Bad Request"
    assert all(isinstance(n, str) and isinstance(v, str) for n, v in headers)
    assert headers[0] == (
        "Vary",
        "Origin, Access-Control-Request-Method, Access-Control-Request-Headers, "
        "Access-Control-Request-Private-Network",
    )


def test_paths_match_path_info_inside_script_name() -> None:
    stack = CORSMiddleware(_text, **ONE, paths=r"/api/")
    mounted = call_wsgi(stack, path="/api/x", headers=ORIGIN, environ={"SCRIPT_NAME": "/prefix"})
    assert mounted.header("access-control-allow-origin") == APP
    outside = call_wsgi(stack, path="/prefix/api/x", headers=ORIGIN)
    assert outside.header("access-control-allow-origin") is None and outside.header("vary") is None


def test_latin1_origin_bytes_never_echoed() -> None:
    # A server hands non-ASCII header bytes over as latin-1 text; they are never reflected.
    stack = CORSMiddleware(_text, allow_origins=["*"], allow_credentials=True)
    result = call_wsgi(stack, headers=[("origin", "https://\xe9.example")])
    assert result.header("access-control-allow-origin") is None


def test_threads_share_one_middleware() -> None:
    from concurrent.futures import ThreadPoolExecutor

    stack = CORSMiddleware(_text, allow_origin_regex=r"https://[a-z]+\.example")

    def one(index: int) -> str | None:
        origin = f"https://{'abcdefgh'[index % 8] * (index % 5 + 1)}.example"
        result = call_wsgi(stack, headers=[("origin", origin)])
        assert result.header("access-control-allow-origin") == origin
        return origin

    with ThreadPoolExecutor(8) as pool:
        assert len(list(pool.map(one, range(200)))) == 200


# --- WSGI's native strings: the same answer as the core's bytes, in the usual spelling


def _native_run(
    options: dict[str, Any],
    case_headers: Any,
    app_headers: Any,
    method: str = "GET",
    path: str = "/",
) -> Any:
    """Call the middleware as a server would; return the native header list it started."""

    def app(environ: Any, start_response: Any) -> list[bytes]:
        start_response("200 OK", list(app_headers))
        return [b"x"]

    environ = {"REQUEST_METHOD": method, "PATH_INFO": path}
    for name, value in case_headers:
        environ["HTTP_" + name.upper().replace("-", "_")] = value
    seen: list[Any] = []
    list(CORSMiddleware(app, **options)(environ, lambda s, h, e=None: seen.append(h)))
    return seen[0]


def _core_answer(
    options: dict[str, Any],
    case_headers: Any,
    app_headers: Headers,
    method: str = "GET",
    path: str = "/",
) -> Headers:
    raw = [(name.encode(), value.encode()) for name, value in case_headers]
    answer = CORSPolicy.from_options(**options).decide_headers(method, path, raw)
    return answer.apply(app_headers) if isinstance(answer, HeaderBlock) else app_headers


@pytest.mark.parametrize("case", [c for c in CASES if c.values[0].app_called])
def test_native_headers_match_the_core_and_keep_spelling(case: Case) -> None:
    spelled = [(name.title(), value) for name, value in case.app_headers]
    native = _native_run(case.options, case.headers, spelled, case.method, case.path)
    raw = [(n.encode(), v.encode()) for n, v in case.app_headers]
    expected = _core_answer(case.options, case.headers, raw, case.method, case.path)
    assert [(n.lower().encode(), v.encode()) for n, v in native] == expected
    # The app's own fields keep their spelling; the policy's are canonical.
    kept = {n for n, _ in spelled if not n.lower().startswith("access-control-")}
    assert kept <= {n for n, _ in native}
    assert all(n[0].isupper() for n, _ in native)


_APP_HEADERS = st.lists(
    st.tuples(
        st.sampled_from(
            ["vary", "access-control-allow-origin", "access-control-allow-credentials",
             "access-control-expose-headers", "content-type", "set-cookie"]
        ),
        st.sampled_from(["*", "Origin", "origin, Cookie", "Accept-Encoding", "x", ""]),
    ),
    max_size=6,
)  # fmt: skip
_FULL = {"allow_origins": [APP], "allow_credentials": True, "expose_headers": ["X-Request-ID"]}


@settings(max_examples=300)
@given(
    _APP_HEADERS,
    st.sampled_from([("title", str.title), ("upper", str.upper), ("lower", str.lower)]),
    st.sampled_from([APP, "https://evil.example", None]),
)
def test_native_merge_matches_the_core(
    app_headers: list[tuple[str, str]], spelling: Any, origin: str | None
) -> None:
    spelled = [(spelling[1](name), value) for name, value in app_headers]
    request = [] if origin is None else [("origin", origin)]
    native = _native_run(_FULL, request, spelled)
    raw = [(n.encode(), v.encode()) for n, v in app_headers]
    expected = _core_answer(_FULL, request, raw)
    assert [(n.lower().encode(), v.encode()) for n, v in native] == expected


def test_preflight_headers_are_the_core_answer_in_canonical_spelling() -> None:
    answer = CORSPolicy.from_options(**ONE).preflight(APP.encode(), b"GET")
    seen: list[Any] = []
    environ = {
        "REQUEST_METHOD": "OPTIONS",
        "PATH_INFO": "/",
        "HTTP_ORIGIN": APP,
        "HTTP_ACCESS_CONTROL_REQUEST_METHOD": "GET",
    }
    body = CORSMiddleware(_text, **ONE)(environ, lambda s, h, e=None: seen.append((s, h)))
    assert list(body) == [answer.body]
    status, headers = seen[0]
    assert status == "200 OK"
    assert headers[0] == ("Access-Control-Allow-Origin", APP)
    assert [(n.lower().encode(), v.encode()) for n, v in headers] == list(answer.headers)


@pytest.mark.parametrize("guard", [True, False])
def test_websocket_origins_accepted_without_effect(guard: bool) -> None:
    # WSGI has no websockets: the option exists for the ASGI twin's signature, and HTTP
    # answers are the same either way.
    plain = CORSMiddleware(_text, **ONE)
    guarded = CORSMiddleware(_text, **ONE, websocket_origins=guard)
    assert guarded.policy.websocket_origins is guard
    for headers in (ORIGIN, [("origin", "https://evil.example")], []):
        expected = call_wsgi(plain, headers=headers)
        result = call_wsgi(guarded, headers=headers)
        assert (result.status, result.headers, result.body) == (
            expected.status,
            expected.headers,
            expected.body,
        )
    with pytest.raises(TypeError, match="websocket_origins must be True or False"):
        CORSMiddleware(_text, websocket_origins=None)
