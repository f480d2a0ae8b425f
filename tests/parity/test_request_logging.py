"""RequestLoggingMiddleware: every behaviour of SPEC's Request logging section, both protocols."""

from __future__ import annotations

import importlib
import json
import logging
import re
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest

from middleware import request_id
from middleware.core.request_logging import FIELDS, AccessRecord
from middleware.request_id import RequestIdFilter
from tests.cases.request_logging import (
    CLIENT_CASES,
    CONFIG_ERRORS,
    EXCLUDE_CASES,
    INJECTION_CASES,
    NEW_ID,
    REQUEST_ID_CASES,
    ClientCase,
    ConfigError,
    ExcludeCase,
    InjectionCase,
    RequestIdCase,
    params,
)
from tests.drivers import Result, call_asgi, call_wsgi
from tests.parity.vectors import TEXT, Reply, Request, asgi_app, wsgi_app

COMBINED = re.compile(
    r"(?P<client>\S+) - - \[\d\d/[A-Z][a-z]{2}/\d{4}:\d\d:\d\d:\d\d [+-]\d{4}\] "
    r'"(?P<request>[^"]*)" (?P<status>\d{3}) (?P<bytes>\d+|-) "(?P<referer>[^"]*)" '
    r'"(?P<user_agent>[^"]*)"'
)


class Capture(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


@dataclass
class Access:
    """A private access logger for one test, and what it received."""

    logger: logging.Logger
    capture: Capture

    @property
    def records(self) -> list[logging.LogRecord]:
        return self.capture.records

    def one(self) -> logging.LogRecord:
        assert len(self.records) == 1, [r.getMessage() for r in self.records]
        return self.records[0]


@pytest.fixture
def access() -> Iterator[Access]:
    logger = logging.getLogger(f"tests.access.{uuid.uuid4().hex}")
    logger.setLevel(logging.INFO)
    logger.propagate = False
    capture = Capture()
    logger.addHandler(capture)
    yield Access(logger, capture)
    logger.removeHandler(capture)


def layer(module: Any, app: Any, **options: Any) -> Any:
    adapter = importlib.import_module(module.__name__ + ".request_logging")
    return adapter.RequestLoggingMiddleware(app, **options)


def logged(serve: Any, access: Access, **options: Any) -> Any:
    """A ``wrap`` for ``serve`` with the test's logger and ``options``."""
    return lambda m, app: layer(m, app, logger=access.logger, **options)


def peer_options(protocol: str, peer: str | None) -> dict[str, Any]:
    if protocol == "wsgi":
        return {"environ": {"REMOTE_ADDR": peer or ""}}
    return {"scope": {"client": None if peer is None else (peer, 40000)}}


def fields(record: logging.LogRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in FIELDS}


# Request IDs


@pytest.mark.parametrize("case", params(REQUEST_ID_CASES))
def test_request_id(serve: Any, access: Access, case: RequestIdCase) -> None:
    result = serve(
        logged(serve, access, trust_request_id=case.trust),
        request=Request(headers=list(case.headers)),
        reply=Reply(headers=TEXT + case.app_headers),
    )
    values = result.header_all("x-request-id")
    assert len(values) == 1, values
    if case.kept is None:
        assert re.fullmatch(NEW_ID, values[0])
    else:
        assert values == [case.kept]
    assert access.one().request_id == values[0]


def test_custom_request_id_header(serve: Any, access: Access) -> None:
    result = serve(
        logged(serve, access, request_id_header="X-Correlation-ID"),
        request=Request(headers=[("X-Correlation-ID", "corr-1"), ("X-Request-ID", "other")]),
        reply=Reply(headers=(*TEXT, ("x-correlation-id", "app"))),
    )
    assert result.header_all("x-correlation-id") == ["corr-1"]
    assert result.header("x-request-id") is None
    assert access.one().request_id == "corr-1"


def test_request_id_in_app_and_streamed_body(serve: Any, access: Access) -> None:
    seen: list[tuple[str, str | None]] = []
    app_log = logging.getLogger(f"tests.app.{uuid.uuid4().hex}")
    app_log.propagate = False
    app_log.setLevel(logging.INFO)
    capture = Capture()
    capture.addFilter(RequestIdFilter())
    app_log.addHandler(capture)

    def before(ctx: Any) -> None:
        seen.append(("before", request_id.get()))
        app_log.info("in the app")

    def during(ctx: Any) -> None:
        seen.append(("during", request_id.get()))
        app_log.info("producing a chunk")

    result = serve(
        logged(serve, access),
        request=Request(headers=[("X-Request-ID", "req-7")]),
        reply=Reply(chunks=(b"a", b"b"), before=before, during=during),
    )
    assert result.body == b"ab"
    assert seen == [("before", "req-7"), ("during", "req-7"), ("during", "req-7")]
    assert [r.request_id for r in capture.records] == ["req-7"] * 3  # type: ignore[attr-defined]
    # Reset when the request ended: the test's own context has no request.
    assert request_id.get() is None


def test_request_id_on_crash_response(serve: Any, access: Access) -> None:
    result = serve(
        logged(serve, access),
        request=Request(headers=[("X-Request-ID", "crash-1")]),
        reply=Reply(raise_at=0),
    )
    assert result.status == 500
    assert result.header_all("x-request-id") == ["crash-1"]
    assert result.body == b"Internal Server Error"


def test_nested_layers_share_one_id(serve: Any, access: Access) -> None:
    seen: list[str | None] = []
    inner_log = logging.getLogger(f"tests.access.{uuid.uuid4().hex}")
    inner_log.propagate = False

    def wrap(m: Any, app: Any) -> Any:
        inner = layer(m, app, logger=inner_log, trust_request_id=False)
        return layer(m, inner, logger=access.logger, trust_request_id=False)

    result = serve(wrap, reply=Reply(before=lambda ctx: seen.append(request_id.get())))
    assert result.header_all("x-request-id") == seen
    assert access.one().request_id == seen[0]


# The record


def test_record_fields_completed(serve: Any, access: Access) -> None:
    result = serve(
        logged(serve, access),
        request=Request(
            method="POST",
            path="/items/7",
            query="page=2&sort=name",
            headers=[
                ("User-Agent", "curl/8.5.0"),
                ("Referer", "https://example.com/"),
                ("X-Request-ID", "r-1"),
            ],
            body=b"payload",
        ),
        reply=Reply(status=201, chunks=(b"cre", b"ated")),
    )
    assert result.status == 201
    record = access.one()
    values = fields(record)
    assert isinstance(values.pop("duration_ms"), float)
    assert values == {
        "client": "127.0.0.1",
        "method": "POST",
        "path": "/items/7",
        "query": "page=2&sort=name",
        "protocol": "HTTP/1.1",
        "status": 201,
        "bytes": 7,
        "user_agent": "curl/8.5.0",
        "referer": "https://example.com/",
        "request_id": "r-1",
        "outcome": "completed",
        "close_code": None,
    }
    assert record.levelno == logging.INFO
    assert record.exc_info is None
    match = COMBINED.fullmatch(record.getMessage())
    assert match, record.getMessage()
    assert match.groupdict() == {
        "client": "127.0.0.1",
        "request": "POST /items/7?page=2&sort=name HTTP/1.1",
        "status": "201",
        "bytes": "7",
        "referer": "https://example.com/",
        "user_agent": "curl/8.5.0",
    }


@pytest.mark.parametrize(
    ("reply", "stop", "status", "sent", "outcome"),
    [
        pytest.param(Reply(chunks=(b"ab", b"cde")), None, 200, 5, "completed", id="streamed"),
        pytest.param(Reply(status=404, chunks=(b"no",)), None, 404, 2, "completed", id="404"),
        pytest.param(Reply(status=204, headers=(), chunks=()), None, 204, 0, "completed", id="204"),
        pytest.param(Reply(raise_at=0), None, 500, 21, "error", id="crash-before-start"),
        pytest.param(
            Reply(chunks=(b"ab", b"cde"), raise_at=1), None, 200, 2, "error", id="crash-mid-body"
        ),
        pytest.param(
            Reply(chunks=(b"ab", b"cde", b"f")), 1, 200, 2, "disconnected", id="client-gone"
        ),
    ],
)
def test_status_bytes_outcome(
    serve: Any,
    access: Access,
    reply: Reply,
    stop: int | None,
    status: int,
    sent: int,
    outcome: str,
) -> None:
    options: dict[str, Any] = {}
    if stop is not None:
        options = {"stop_after": stop} if serve.protocol == "wsgi" else {"disconnect_after": stop}
    result = serve(logged(serve, access), reply=reply, **options)
    assert result.status == status
    record = access.one()
    assert (record.status, record.bytes, record.outcome) == (  # type: ignore[attr-defined]
        status,
        sent,
        outcome,
    )
    assert record.exc_info is None  # the traceback is logged once, elsewhere


def test_crash_traceback_logged_once(
    serve: Any, access: Access, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.ERROR, logger="middleware.errors")
    result = serve(logged(serve, access), reply=Reply(raise_at=0))
    assert result.status == 500
    assert len(access.records) == 1
    tracebacks = [r for r in caplog.records if r.exc_info]
    if serve.protocol == "wsgi":
        # PEP 3333 cannot both answer and raise: the layer that answered logs it.
        assert [r.name for r in tracebacks] == ["middleware.errors"]
        assert result.error is None
    else:
        # ASGI re-raises, so the server logs it.
        assert tracebacks == []
        assert type(result.error).__name__ == "Boom"


@pytest.mark.parametrize("fmt", ["combined", "json"])
@pytest.mark.parametrize("case", params(INJECTION_CASES))
def test_injection_escaped(serve: Any, access: Access, case: InjectionCase, fmt: str) -> None:
    serve(
        logged(serve, access, format=fmt),
        request=Request(path=case.path, query=case.query, headers=list(case.headers)),
    )
    record = access.one()
    line = record.getMessage()
    assert all(" " <= char <= "~" for char in line), line
    assert (case.combined if fmt == "combined" else case.json) in line
    if case.request_id is None:
        assert re.fullmatch(NEW_ID, record.request_id)  # type: ignore[attr-defined]
    else:
        assert record.request_id == case.request_id  # type: ignore[attr-defined]


def test_json_format(serve: Any, access: Access) -> None:
    serve(
        logged(serve, access, format="json"),
        request=Request(path="/j", headers=[("X-Request-ID", "j-1")]),
        reply=Reply(chunks=(b"{}",)),
    )
    record = access.one()
    parsed = json.loads(record.getMessage())
    assert list(parsed) == list(FIELDS)
    assert parsed == json.loads(json.dumps(fields(record)))
    assert parsed["request_id"] == "j-1" and parsed["bytes"] == 2 and parsed["referer"] is None


def test_callable_format(serve: Any, access: Access) -> None:
    seen: list[AccessRecord] = []

    def fmt(record: AccessRecord) -> str:
        seen.append(record)
        return f"{record.method} {record.path} -> {record.status}"

    serve(logged(serve, access, format=fmt), request=Request(path="/c"))
    assert access.one().getMessage() == "GET /c -> 200"
    assert len(seen) == 1 and isinstance(seen[0], AccessRecord)


def test_callable_format_error_is_logged_not_raised(
    serve: Any, access: Access, caplog: pytest.LogCaptureFixture
) -> None:
    def broken(record: AccessRecord) -> str:
        raise RuntimeError("formatter bug")

    result = serve(logged(serve, access, format=broken))
    assert result.status == 200 and result.body == b"hello" and result.error is None
    assert access.records == []
    assert [r.name for r in caplog.records if r.exc_info] == ["middleware.errors"]


def test_nothing_built_when_logger_disabled(serve: Any, access: Access) -> None:
    calls: list[AccessRecord] = []
    access.logger.setLevel(logging.WARNING)
    result = serve(logged(serve, access, format=calls.append))
    assert result.status == 200 and re.fullmatch(NEW_ID, result.header("x-request-id") or "")
    assert calls == [] and access.records == []


def test_logger_by_name(serve: Any, caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="middleware.access")
    serve(lambda m, app: layer(m, app), request=Request(path="/default"))
    records = [r for r in caplog.records if r.name == "middleware.access"]
    assert len(records) == 1 and '"GET /default HTTP/1.1" 200 5' in records[0].getMessage()


# Exclusion and client address


@pytest.mark.parametrize("case", params(EXCLUDE_CASES))
def test_exclude_paths(serve: Any, access: Access, case: ExcludeCase) -> None:
    result = serve(
        logged(serve, access, exclude_paths=case.exclude_paths), request=Request(path=case.path)
    )
    assert len(access.records) == (0 if case.excluded else 1)
    # Excluded paths still get a request ID.
    assert re.fullmatch(NEW_ID, result.header("x-request-id") or "")


@pytest.mark.parametrize("case", params(CLIENT_CASES))
def test_client_address(serve: Any, access: Access, case: ClientCase) -> None:
    serve(
        logged(serve, access, trusted_proxies=case.trusted),
        request=Request(headers=list(case.headers)),
        **peer_options(serve.protocol, case.peer),
    )
    record = access.one()
    assert record.client == case.client  # type: ignore[attr-defined]
    assert record.getMessage().startswith(f"{case.client} - - [")


# Configuration


@pytest.mark.parametrize("case", params(CONFIG_ERRORS))
def test_config_errors(serve: Any, case: ConfigError) -> None:
    with pytest.raises(case.error) as caught:
        layer(serve.module, lambda *args: None, **case.options)
    assert str(caught.value) == case.message


def _wsgi_app(environ: Any, start_response: Any) -> Any:
    return []


def test_wrong_protocol_app_refused(serve: Any) -> None:
    other = asgi_app(Reply()) if serve.protocol == "wsgi" else _wsgi_app
    with pytest.raises(TypeError, match="use middleware.(wsgi|asgi).RequestLoggingMiddleware"):
        layer(serve.module, other)


# One request, both protocols, the same record.


def _both(request: Request, reply: Reply, **options: Any) -> tuple[list[Result], list[Any]]:
    results, records = [], []
    for protocol, call, make in (("wsgi", call_wsgi, wsgi_app), ("asgi", call_asgi, asgi_app)):
        logger = logging.getLogger(f"tests.access.{protocol}.{uuid.uuid4().hex}")
        logger.propagate = False
        logger.setLevel(logging.INFO)
        capture = Capture()
        logger.addHandler(capture)
        module = importlib.import_module(f"middleware.{protocol}.request_logging")
        app = module.RequestLoggingMiddleware(make(reply), logger=logger, **options)
        args = (request.method, request.path, request.query, list(request.headers))
        results.append(call(app, *args))
        assert len(capture.records) == 1
        records.append(capture.records[0])
    return results, records


@pytest.mark.parametrize(
    "request_",
    [
        pytest.param(Request(path="/caf\xe9/a b", query="x=%20&y"), id="non-ascii-path"),
        pytest.param(
            Request(headers=[("User-Agent", "a\x1bb"), ("Referer", "caf\xe9")]), id="headers"
        ),
        pytest.param(Request(method="HEAD", path="/h"), id="head"),
    ],
)
def test_same_record_on_both_protocols(request_: Request) -> None:
    request = Request(
        method=request_.method,
        path=request_.path,
        query=request_.query,
        headers=[*request_.headers, ("X-Request-ID", "same")],
    )
    _, (wsgi_record, asgi_record) = _both(request, Reply(chunks=(b"x", b"yz")))
    wsgi_fields, asgi_fields = fields(wsgi_record), fields(asgi_record)
    wsgi_fields.pop("duration_ms"), asgi_fields.pop("duration_ms")
    assert wsgi_fields == asgi_fields
    stamp = re.compile(r"\[[^]]*\]")
    assert stamp.sub("", wsgi_record.getMessage()) == stamp.sub("", asgi_record.getMessage())


def test_duration_includes_streamed_body(serve: Any, access: Access, monkeypatch: Any) -> None:
    # A fake monotonic clock the app advances: no sleeping, no timing assertions.
    now = [1000.0]
    module = importlib.import_module(serve.module.__name__ + ".request_logging")
    monkeypatch.setattr(module, "perf_counter", lambda: now[0])

    def advance(seconds: float) -> Any:
        def hook(ctx: Any) -> None:
            now[0] += seconds

        return hook

    serve(
        logged(serve, access),
        reply=Reply(chunks=(b"a", b"b", b"c"), before=advance(0.5), during=advance(2.0)),
    )
    assert access.one().duration_ms == 6500.0  # type: ignore[attr-defined]


def test_request_id_filter_outside_a_request() -> None:
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "message", None, None)
    assert RequestIdFilter().filter(record) is True
    assert record.request_id == "-"  # type: ignore[attr-defined]
    record = logging.LogRecord("x", logging.INFO, __file__, 1, "message", None, None)
    RequestIdFilter(default=None).filter(record)
    assert record.request_id is None  # type: ignore[attr-defined]


def test_request_id_filter_keeps_an_existing_id_and_honours_its_name() -> None:
    token = request_id.current.set("current")
    try:
        record = logging.LogRecord("x", logging.INFO, __file__, 1, "message", None, None)
        record.request_id = "own"
        assert RequestIdFilter().filter(record) is True
        assert record.request_id == "own"
        fresh = logging.LogRecord("x", logging.INFO, __file__, 1, "message", None, None)
        RequestIdFilter().filter(fresh)
        assert fresh.request_id == "current"  # type: ignore[attr-defined]
        other = logging.LogRecord("other", logging.INFO, __file__, 1, "message", None, None)
        assert not RequestIdFilter("app").filter(other)
    finally:
        request_id.current.reset(token)
