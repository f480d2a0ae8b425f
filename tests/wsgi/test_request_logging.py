"""RequestLoggingMiddleware rules only WSGI has: close() writes the record, exc_info, write()."""

from __future__ import annotations

import contextvars
import io
import sys
import threading
from collections.abc import Iterator
from typing import Any
from wsgiref.validate import validator

import pytest

from middleware import request_id
from middleware.wsgi.request_logging import RequestLoggingMiddleware
from tests.drivers import call_wsgi
from tests.parity.vectors import Boom

TEXT = [("Content-Type", "text/plain")]


def environ(**extra: Any) -> dict[str, Any]:
    env: dict[str, Any] = {
        "REQUEST_METHOD": "GET",
        "SCRIPT_NAME": "",
        "PATH_INFO": "/",
        "QUERY_STRING": "",
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    env.update(extra)
    return env


def test_record_written_when_iterable_closed(access: Any) -> None:
    logger, capture = access

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", TEXT)
        return [b"a", b"bc"]

    body = validator(RequestLoggingMiddleware(validator(app), logger=logger))(
        environ(), lambda status, headers, exc_info=None: None
    )
    assert b"".join(body) == b"abc"
    assert capture.records == []  # exhausted is not closed: the server may still be sending
    body.close()  # type: ignore[attr-defined]
    assert [(r.status, r.bytes, r.outcome) for r in capture.records] == [(200, 3, "completed")]


def test_exc_info_restart_logs_final_status(access: Any) -> None:
    logger, capture = access

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", TEXT)
        try:
            raise Boom("while rendering")
        except Boom:
            start_response("503 Service Unavailable", TEXT, sys.exc_info())
        return [b"busy"]

    result = call_wsgi(RequestLoggingMiddleware(validator(app), logger=logger))
    assert result.status == 503
    [record] = capture.records
    assert (record.status, record.bytes, record.outcome) == (503, 4, "completed")


def test_exc_info_after_headers_sent_keeps_first_status(access: Any) -> None:
    logger, capture = access

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", TEXT)
        yield b"first"
        try:
            raise Boom("too late")
        except Boom:
            # The headers left with the first chunk: the server re-raises.
            start_response("500 Internal Server Error", TEXT, sys.exc_info())
        yield b"never"  # pragma: no cover

    result = call_wsgi(RequestLoggingMiddleware(validator(app), logger=logger))
    assert result.status == 200 and isinstance(result.error, Boom)
    [record] = capture.records
    assert (record.status, record.bytes, record.outcome) == (200, 5, "error")


def test_write_callable_bytes_counted(access: Any) -> None:
    logger, capture = access

    def app(environ: Any, start_response: Any) -> Any:
        write = start_response("200 OK", TEXT)
        write(b"abc")
        write(b"")
        return [b"de"]

    result = call_wsgi(RequestLoggingMiddleware(validator(app), logger=logger))
    assert result.body == b"abcde"
    assert [r.bytes for r in capture.records] == [5]


def test_write_then_raise_is_logged_and_propagates(access: Any) -> None:
    logger, capture = access

    def app(environ: Any, start_response: Any) -> Any:
        write = start_response("200 OK", TEXT)
        write(b"partial")
        raise Boom("after write")

    with pytest.raises(Boom):
        call_wsgi(RequestLoggingMiddleware(app, logger=logger), validate=False)
    [record] = capture.records
    assert (record.status, record.bytes, record.outcome) == (200, 7, "error")
    assert request_id.get() is None


def test_request_id_only_while_app_code_runs(access: Any) -> None:
    logger, _ = access
    inside: list[str | None] = []

    def app(environ: Any, start_response: Any) -> Any:
        inside.append(request_id.get())
        start_response("200 OK", TEXT)

        def body() -> Iterator[bytes]:
            try:
                for chunk in (b"a", b"b"):
                    inside.append(request_id.get())
                    yield chunk
            finally:
                inside.append(request_id.get())  # runs in close()

        return body()

    middleware = RequestLoggingMiddleware(validator(app), logger=logger, trust_request_id=True)
    env = environ(HTTP_X_REQUEST_ID="w-1")
    result = middleware(env, lambda status, headers, exc_info=None: None)
    outside = [request_id.get()]
    iterator = iter(result)
    next(iterator)
    outside.append(request_id.get())  # the server's code between chunks
    result.close()  # type: ignore[attr-defined]
    outside.append(request_id.get())
    assert inside == ["w-1", "w-1", "w-1"]
    assert outside == [None, None, None]


def test_request_id_in_thread_started_with_context(access: Any) -> None:
    logger, _ = access
    seen: list[str | None] = []

    def app(environ: Any, start_response: Any) -> Any:
        thread = threading.Thread(
            target=contextvars.copy_context().run, args=(lambda: seen.append(request_id.get()),)
        )
        thread.start()
        thread.join()
        start_response("200 OK", TEXT)
        return [b"ok"]

    result = call_wsgi(RequestLoggingMiddleware(validator(app), logger=logger))
    assert seen == [result.header("x-request-id")]


def test_body_iterated_in_another_context(access: Any) -> None:
    # Some servers step the iterable from fresh contexts (a thread pool per chunk).
    logger, capture = access
    seen: list[str | None] = []

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", TEXT)

        def body() -> Iterator[bytes]:
            seen.append(request_id.get())
            yield b"x"

        return body()

    result = RequestLoggingMiddleware(validator(app), logger=logger)(
        environ(HTTP_X_REQUEST_ID="ctx"), lambda status, headers, exc_info=None: None
    )
    iterator = iter(result)
    chunks = []
    while True:
        try:
            chunks.append(contextvars.Context().run(next, iterator))
        except StopIteration:
            break
    contextvars.Context().run(result.close)  # type: ignore[attr-defined]
    assert chunks == [b"x"] and seen == ["ctx"]
    assert [r.request_id for r in capture.records] == ["ctx"]


def test_native_header_replacement_case_insensitive(access: Any) -> None:
    logger, _ = access

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", [*TEXT, ("x-REQUEST-id", "app"), ("X-Other", "1")])
        return [b""]

    result = call_wsgi(RequestLoggingMiddleware(validator(app), logger=logger))
    assert result.header_all("x-request-id") == [result.header("x-request-id")]
    assert result.header("x-request-id") != "app"
    assert result.header("x-other") == "1"


def test_app_header_list_not_mutated(access: Any) -> None:
    logger, _ = access
    headers = [*TEXT, ("X-Request-ID", "app")]

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", headers)
        return [b""]

    call_wsgi(RequestLoggingMiddleware(validator(app), logger=logger))
    assert headers == [*TEXT, ("X-Request-ID", "app")]


def test_script_name_in_logged_path(access: Any) -> None:
    logger, capture = access

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", TEXT)
        return [b""]

    call_wsgi(
        RequestLoggingMiddleware(validator(app), logger=logger, exclude_paths=("/x",)),
        path="/x",
        environ={"SCRIPT_NAME": "/mount"},
    )
    assert [r.path for r in capture.records] == ["/mount/x"]


def test_missing_remote_addr(access: Any) -> None:
    logger, capture = access

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", TEXT)
        return [b""]

    env = environ()
    del env["REMOTE_ADDR"]
    result = RequestLoggingMiddleware(validator(app), logger=logger)(
        env, lambda status, headers, exc_info=None: None
    )
    list(result)
    result.close()  # type: ignore[attr-defined]
    [record] = capture.records
    assert record.client is None and record.getMessage().startswith("- - - [")


def test_an_iterable_whose_iter_raises_is_still_closed(access: Any) -> None:
    # PEP 3333: the iterable's close() is called whatever happens, so the request-ID wrapper
    # takes the iterator at the first step, where a failure is the crash the plumbing answers.
    logger, capture = access
    closed: list[bool] = []

    class Body:
        def __iter__(self) -> Iterator[bytes]:
            raise Boom("no body")

        def close(self) -> None:
            closed.append(request_id.get() is not None)

    def app(environ: Any, start_response: Any) -> Any:
        start_response("200 OK", TEXT)
        return Body()

    result = call_wsgi(RequestLoggingMiddleware(app, logger=logger), validate=False)
    assert result.status == 500 and result.body == b"Internal Server Error"
    assert closed == [True]
    assert [(r.status, r.outcome) for r in capture.records] == [(500, "error")]
