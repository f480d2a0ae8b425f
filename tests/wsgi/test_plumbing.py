"""PEP 3333 rules of the shared WSGI plumbing, shown through TimingMiddleware."""

from __future__ import annotations

import logging
import sys
import threading
from collections.abc import Callable
from functools import partial
from typing import Any
from wsgiref.validate import validator

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware import timing
from middleware.core.compression import EDITED_FIELDS, CompressionPolicy
from middleware.core.headers import Headers
from middleware.core.responses import Response, plain
from middleware.core.sessions import SessionCommit
from middleware.wsgi import TimingMiddleware
from middleware.wsgi import _environ as plumbing
from middleware.wsgi._environ import Exchange
from tests.drivers import call_wsgi
from tests.parity.vectors import Boom, Probe, Reply, wsgi_app

TEXT = [("Content-Type", "text/plain")]


def test_close_called_once_on_normal_end() -> None:
    probe = Probe()
    result = call_wsgi(TimingMiddleware(wsgi_app(Reply(chunks=(b"a", b"b")), probe)))
    assert result.body == b"ab" and probe.closed == 1


def test_close_called_when_client_leaves_early() -> None:
    probe = Probe()
    app = TimingMiddleware(wsgi_app(Reply(chunks=(b"a", b"b", b"c")), probe))
    result = call_wsgi(app, stop_after=1)
    assert result.body == b"a" and probe.closed == 1


def test_close_called_when_body_raises_after_start() -> None:
    probe = Probe()
    app = TimingMiddleware(wsgi_app(Reply(chunks=(b"a", b"b"), raise_at=1), probe))
    result = call_wsgi(app)
    assert isinstance(result.error, Boom) and probe.closed == 1


def test_close_called_when_body_raises_before_first_byte(caplog: pytest.LogCaptureFixture) -> None:
    probe = Probe()
    app = TimingMiddleware(wsgi_app(Reply(chunks=(b"a",), raise_at=0), probe))
    result = call_wsgi(app)
    assert result.status == 500 and result.body == b"Internal Server Error"
    crash_logs = [r for r in caplog.records if r.name == "middleware.errors"]
    assert len(crash_logs) == 1 and crash_logs[0].exc_info is not None


def test_generator_body_raising_before_first_chunk_is_answered_with_500() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        raise Boom("inside the generator")
        yield b"never"  # pragma: no cover

    result = call_wsgi(TimingMiddleware(validator(app)))
    assert result.status == 500
    assert result.header("server-timing") is not None
    assert result.header("content-type") == "text/plain; charset=utf-8"


def test_inner_close_raising_propagates_after_hooks_ran() -> None:
    seen: list[Any] = []

    class Body:
        def __iter__(self) -> Any:
            return iter([b"x"])

        def close(self) -> None:
            raise RuntimeError("close failed")

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", TEXT)
        return Body()

    with pytest.raises(RuntimeError, match="close failed"):
        call_wsgi(TimingMiddleware(app, on_complete=seen.append), validate=False)
    assert len(seen) == 1


def test_write_callable_passes_through() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        write = start_response("200 OK", TEXT)
        write(b"written ")
        return [b"returned"]

    result = call_wsgi(TimingMiddleware(validator(app)))
    assert result.body == b"written returned"
    assert result.header("server-timing") is not None


def test_exc_info_restart_recomputes_headers() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", TEXT)
        try:
            raise Boom("handled by the app")
        except Boom:
            start_response("503 Service Unavailable", list(TEXT), sys.exc_info())
        return [b"busy"]

    result = call_wsgi(TimingMiddleware(validator(app)))
    assert result.status == 503
    assert len(result.header_all("server-timing")) == 1


def test_exc_info_after_headers_sent_reraises() -> None:
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", TEXT)
        yield b"first"
        try:
            raise Boom("too late")
        except Boom:
            start_response("500 Internal Server Error", list(TEXT), sys.exc_info())
        yield b"never"  # pragma: no cover

    result = call_wsgi(TimingMiddleware(validator(app)))
    assert result.status == 200 and result.body == b"first"
    assert isinstance(result.error, Boom)


def test_headers_stay_native_strings() -> None:
    captured: list[Any] = []

    def server_start(status: str, headers: Any, exc_info: Any = None) -> Any:
        captured.extend(headers)
        return lambda data: None

    app = TimingMiddleware(wsgi_app(Reply()))
    body = app({**_environ()}, server_start)
    list(body)
    body.close()  # type: ignore[attr-defined]
    assert all(type(n) is str and type(v) is str for n, v in captured)


def _environ() -> dict[str, Any]:
    import io

    return {
        "REQUEST_METHOD": "GET",
        "PATH_INFO": "/",
        "SCRIPT_NAME": "",
        "QUERY_STRING": "",
        "SERVER_NAME": "x",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": True,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }


def test_asgi_app_rejected_with_the_twin_named() -> None:
    async def asgi(scope: Any, receive: Any, send: Any) -> None:
        pass

    with pytest.raises(TypeError, match=r"use middleware\.asgi\.TimingMiddleware"):
        TimingMiddleware(asgi)


def test_sixteen_threads_never_see_each_others_metrics() -> None:
    """16 threads, each request records its own metric; no header carries another's."""
    barrier = threading.Barrier(16)
    failures: list[str] = []

    def app(environ: Any, start_response: Any) -> Any:
        me = environ["QUERY_STRING"]
        timing.record(f"req{me}", 1)
        barrier.wait(timeout=10)
        start_response("200 OK", [("Content-Type", "text/plain")])

        def body() -> Any:
            timing.record(f"late{me}", 1)
            yield me.encode()

        return body()

    completes: dict[str, Any] = {}

    def on_complete(timings: Any) -> None:
        names = [m[0] for m in timings.metrics]
        completes[names[0][3:]] = names

    stack = TimingMiddleware(validator(app), on_complete=on_complete)

    def worker(n: int) -> None:
        for _ in range(20 if n else 1):
            pass
        result = call_wsgi(stack, query=str(n))
        header = result.header("server-timing") or ""
        entries = [e.split(";")[0] for e in header.split(", ")]
        if entries != ["app", f"req{n}"]:
            failures.append(f"{n}: {header}")

    threads = [threading.Thread(target=worker, args=(n,)) for n in range(16)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=20)
    assert not failures
    assert completes == {str(n): [f"req{n}", f"late{n}"] for n in range(16)}


def test_timing_outside_a_request_does_nothing() -> None:
    timing.record("free", 1)
    with timing.measure("free"):
        pass
    assert timing.current.get() is None


def test_contextvar_reset_after_close() -> None:
    call_wsgi(TimingMiddleware(wsgi_app(Reply())))
    assert timing.current.get() is None


def test_crash_log_is_on_middleware_errors(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.ERROR)
    call_wsgi(TimingMiddleware(wsgi_app(Reply(raise_at=0))))
    assert [r.name for r in caplog.records] == ["middleware.errors"]


def test_list_body_handed_back_as_is_and_request_ended() -> None:
    body = [b"a", b"b"]

    def app(environ: Any, start_response: Any) -> Any:
        timing.record("db", 1)
        start_response("200 OK", [("Content-Type", "text/plain")])
        return body

    served = TimingMiddleware(app)(_environ(), lambda status, headers, exc_info=None: None)
    assert served is body
    assert timing.current.get() is None


def test_list_body_still_wrapped_when_on_complete_needs_the_end() -> None:
    seen: list[Any] = []
    result = call_wsgi(
        TimingMiddleware(
            validator(lambda e, sr: (sr("200 OK", TEXT), [b"x"])[1]), on_complete=seen.append
        )
    )
    assert result.body == b"x" and len(seen) == 1


# --- Handing another layer's exchange over (hand_over / after_close) -----------------------


class _Inner:
    """A layer of this plumbing with no work of its own: its response is an Exchange."""

    def __init__(self, app: Any, events: list[str]) -> None:
        self.app = app
        self.events = events

    def __call__(self, environ: Any, start_response: Any) -> Any:
        events = self.events

        class _Recorded(Exchange):
            __slots__ = ()

            def on_close(self) -> None:
                events.append("inner closed")

        return _Recorded(environ, start_response).run(self.app)


def test_timing_around_another_exchange_ends_after_it() -> None:
    events: list[str] = []
    seen: list[Any] = []
    probe = Probe()
    inner = _Inner(wsgi_app(Reply(chunks=(b"a", b"b")), probe), events)
    app = TimingMiddleware(inner, on_complete=lambda t: events.append("timing ended"))
    served = app(_environ(), lambda status, headers, exc_info=None: seen.append(headers))
    assert b"".join(served) == b"ab"
    served.close()
    served.close()
    assert events == ["inner closed", "timing ended"] and probe.closed == 1
    assert any(name == "Server-Timing" for name, _ in seen[0])


def test_handed_over_crash_before_first_byte_keeps_the_outer_headers() -> None:
    events: list[str] = []
    inner = _Inner(wsgi_app(Reply(chunks=(b"a",), raise_at=0)), events)
    result = call_wsgi(TimingMiddleware(inner))
    assert result.status == 500 and result.body == b"Internal Server Error"
    assert result.header("server-timing") is not None
    assert events == ["inner closed"] and timing.current.get() is None


def test_after_close_hooks_run_in_order_even_when_one_raises() -> None:
    exchange = Exchange(_environ(), lambda status, headers, exc_info=None: None)
    exchange.run(lambda environ, start_response: [b""])
    ran: list[int] = []

    def failing() -> None:
        ran.append(1)
        raise Boom("hook")

    exchange.after_close(failing)
    exchange.after_close(lambda: ran.append(2))
    with pytest.raises(Boom):
        exchange.close()
    exchange.close()
    assert ran == [1, 2]


def test_hand_over_gives_nothing_for_other_bodies() -> None:
    for body in ([b"x"], (b"x",), iter([b"x"])):
        exchange = Exchange(_environ(), lambda status, headers, exc_info=None: None)
        exchange.run(lambda environ, start_response, body=body: body)
        assert exchange.hand_over() is None


def test_status_codes_are_read_from_any_reason_phrase_and_the_cache_stays_bounded() -> None:
    assert plumbing.status_code("404 Not Found") == 404
    assert plumbing.status_code("404 Not Found") == 404  # remembered
    assert plumbing.status_code("299 Whatever The App Says") == 299
    for n in range(3 * plumbing._STATUS_CODES_ENTRIES):
        assert plumbing.status_code(f"200 Invented {n}") == 200
    assert len(plumbing._STATUS_CODES) <= plumbing._STATUS_CODES_ENTRIES
    with pytest.raises(ValueError):
        plumbing.status_code("OK")


class _Teapot(Exception):
    pass


class _AnsweringExchange(Exchange):
    def answer_for(self, error: BaseException) -> Response | None:
        return plain(418, b"teapot") if isinstance(error, _Teapot) else None


@pytest.mark.parametrize("raised", [_Teapot, ValueError])
def test_an_exchange_may_answer_an_error_instead_of_a_crash(raised: type) -> None:
    # Exchange.answer_for, for an app that raises while its body is produced (after its
    # start_response): the answer's body goes out, not the plain 500's.
    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [("Content-Type", "text/plain")])
        raise raised
        yield b""  # pragma: no cover - a generator that raises on its first step

    def layer(environ: Any, start_response: Any) -> Any:
        return _AnsweringExchange(environ, start_response).run(app)

    result = call_wsgi(layer)
    expected = (418, b"teapot") if raised is _Teapot else (500, b"Internal Server Error")
    assert (result.status, result.body) == expected


# -- HeadFields: a rule on the fields it reads gives the rule's answer on the whole head -------

_NATIVE_NAMES = st.sampled_from(
    ["Content-Type", "content-length", "Vary", "vary", "ETag", "Accept-Ranges", "X-Other",
     "Set-Cookie", "Cache-Control", "Access-Control-Allow-Origin", "Access-Control-Expose-Headers",
     "Content-Encoding", "Content-Range"]
)  # fmt: skip
_NATIVE_VALUES = st.sampled_from(
    ["text/html; charset=utf-8", "application/json", "13", "5000", "Accept-Encoding", "Cookie",
     "*", "Origin, Cookie", '"v1"', "bytes", "x", "https://app.example", "gzip", "no-transform"]
)  # fmt: skip
_HEADS = st.lists(st.tuples(_NATIVE_NAMES, _NATIVE_VALUES), max_size=7)


def _rules() -> list[tuple[frozenset[bytes], Callable[[Headers], Headers | None]]]:
    """Every rule a WSGI adapter hands ``HeadFields``, with the fields it reads."""
    policy = CompressionPolicy.from_options(minimum_size=100)
    return [
        (frozenset({b"vary"}), SessionCommit(b"Cookie", b"s=1; Path=/").apply),
        (frozenset({b"vary"}), SessionCommit(None, b"s=1; Path=/").apply),
        (EDITED_FIELDS, partial(policy.left_as_is, 200)),
        (EDITED_FIELDS, partial(policy.left_as_is, 304)),
    ]


@settings(max_examples=300, deadline=None)
@given(_HEADS, st.integers(min_value=0, max_value=3))
def test_head_fields_edit_is_the_rule_on_the_whole_head(headers: list[Any], which: int) -> None:
    # The adapters hand a rule only the fields it reads, for speed; what they send must be
    # what the rule makes of the whole head, field for field and in the same order (the ASGI
    # twin applies it to the whole head).
    names, rule = _rules()[which]
    fields = plumbing.HeadFields(names)
    read = fields.read(headers)
    head = rule(read)
    whole = rule(plumbing.bytes_head(headers))
    assert (head is None) == (whole is None)
    if head is None or whole is None:
        return
    sent = fields.edit(headers, read, head, rule)
    assert plumbing.bytes_head(sent) == whole
    # Names the app sent keep one of its spellings.
    spellings: dict[str, set[str]] = {}
    for name, _ in headers:
        spellings.setdefault(name.lower(), set()).add(name)
    assert all(name in spellings.get(name.lower(), {name}) for name, _ in sent)
