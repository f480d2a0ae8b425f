"""The one runner of the parity suite: a vector through a stack, on the ``serve`` fixture's
protocol, and every check the vector's fields ask for.

    @pytest.mark.parametrize("vector", params(VECTORS))
    def test_cors(serve, vector):
        run_vector(serve, lambda m, app: m.CORSMiddleware(app, **options), vector)

Besides what ``check`` compares (status, headers, body), every run asserts: what reached the
server (``crash``, ``raises``), whether the response was complete, the log records (captured
from every ``middleware.*`` logger, debug included), the one access record when the stack
logs requests, whether the app ran, that every WSGI iterable the app returned was closed
exactly once, and that no ASGI task was left behind. ``run_together`` serves many vectors
at once through one stack (ASGI: one event loop; WSGI: threads) with the same checks.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import sys
import threading
import zlib
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import replace
from types import ModuleType
from typing import Any

from tests.drivers import Result, acall, call_wsgi
from tests.parity.vectors import Probe, Reply, Vector, asgi_app, check, wsgi_app

Wrap = Callable[[ModuleType, Any], Any]


class _Records(logging.Handler):
    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []
        self._lock = threading.Lock()

    def emit(self, record: logging.LogRecord) -> None:
        with self._lock:
            self.records.append(record)


@contextmanager
def captured_logs() -> Iterator[list[logging.LogRecord]]:
    """Every record of the ``middleware`` loggers while the block runs, debug included (and
    so with the access log enabled)."""
    logger = logging.getLogger("middleware")
    handler, level = _Records(), logger.level
    logger.addHandler(handler)
    logger.setLevel(logging.DEBUG)
    try:
        yield handler.records
    finally:
        logger.removeHandler(handler)
        logger.setLevel(level)


def run_vector(serve: Any, wrap: Wrap, vector: Vector) -> Result:
    """Serve ``vector`` through ``wrap(module, app)`` and assert everything it expects.

    A ``Reply(store_fails=...)`` is served after one request that makes the session in
    ``serve.store``; the store is then down for the vector's own request.
    """
    request = vector.request
    # The request runs in a context of its own: a context variable the middleware leaves set
    # is seen here, and cannot leak into the next test.
    context = contextvars.copy_context()
    with captured_logs() as logs:
        if vector.reply.store_fails is not None:
            request = context.run(_store_down, serve, wrap, vector)
        before = _counts(serve.probe)
        del logs[:]
        try:
            result = context.run(serve, wrap, request=request, reply=vector.reply)
        finally:
            serve.store.down = False
    result.logs = list(logs)
    verify(serve.protocol, result, vector, _counts(serve.probe) - before)
    leaked = {
        var.name: value
        for var, value in context.items()
        if var.name.startswith("middleware.") and value is not var.get(None)
    }
    assert not leaked, f"context variables left set after the request: {leaked!r}"
    return result


def _store_down(serve: Any, wrap: Wrap, vector: Vector) -> Any:
    reply = replace(vector.reply, store_fails=None)
    first = serve(wrap, request=replace(vector.request, leaves_after=None), reply=reply)
    assert first.status == 200 and first.error is None, (first.status, first.error)
    (cookie,) = first.header_all("set-cookie")
    serve.store.down = True
    if vector.reply.store_fails == "write":
        return vector.request
    headers = [*vector.request.headers, ("cookie", cookie.split(";")[0])]
    return replace(vector.request, headers=headers)


class _Counts:
    def __init__(self, calls: int, returned: int, closed: int) -> None:
        self.calls, self.returned, self.closed = calls, returned, closed

    def __sub__(self, other: _Counts) -> _Counts:
        return _Counts(
            self.calls - other.calls, self.returned - other.returned, self.closed - other.closed
        )


def _counts(probe: Probe) -> _Counts:
    return _Counts(probe.calls, probe.returned, probe.closed)


def verify(protocol: str, result: Result, vector: Vector, app: _Counts) -> None:
    """Everything ``vector`` expects of ``result`` on ``protocol``; ``app``: what the app did."""
    expect = vector.on(protocol)
    check(result, expect, body=read_body(result, expect))
    _check_errors(protocol, result, expect)
    complete = expect.complete
    if complete is None:
        complete = expect.raises is None and expect.request.leaves_after is None
    assert result.complete is complete, f"complete: {result.complete}, expected {complete}"
    _check_access(result, expect)
    assert (app.calls > 0) is expect.app_called, f"app called {app.calls} times"
    if protocol == "wsgi":
        assert app.closed == app.returned, f"{app.returned} iterables, {app.closed} closed"
    assert not result.tasks_left, f"tasks left behind: {result.tasks_left!r}"


def read_body(result: Result, vector: Vector) -> bytes:
    """The body as the client reads it: gzip decoded (a cut stream gives its prefix, and a
    complete response must hold a complete stream)."""
    if result.header("content-encoding") != "gzip":
        return result.body
    decoder = zlib.decompressobj(16 + zlib.MAX_WBITS)
    body = decoder.decompress(result.body)
    if result.complete and vector.raises is None:
        assert decoder.eof, "the gzip stream of a complete response is cut"
    return body


def crash_of(protocol: str, result: Result) -> BaseException | None:
    """The exception the crash rule answered: re-raised on ASGI, logged once on WSGI."""
    if protocol == "asgi":
        return result.error
    logged = [r for r in result.logs if r.name == "middleware.errors" and r.exc_info]
    return logged[0].exc_info[1] if logged and logged[0].exc_info else None


def _check_errors(protocol: str, result: Result, expect: Vector) -> None:
    records = [r for r in result.logs if r.name != "middleware.access"]
    if expect.crash is not None:
        assert expect.raises is None, "a vector expects a crash or an exception, not both"
        assert result.status == 500, "the crash rule answers 500"
        if protocol == "wsgi":
            assert result.error is None, f"WSGI answered the crash, yet raised {result.error!r}"
            crash = [r for r in records if r.name == "middleware.errors" and r.exc_info]
            assert len(crash) == 1, [r.getMessage() for r in crash]
            assert crash[0].levelno == logging.ERROR
            records.remove(crash[0])
        assert isinstance(crash_of(protocol, result), expect.crash), crash_of(protocol, result)
    elif expect.raises is not None:
        assert isinstance(result.error, expect.raises), result.error
    else:
        assert result.error is None, f"raised to the server: {result.error!r}"
    seen = [r for r in records if r.levelno >= expect.log_level]
    said = [(r.name, logging.getLevelName(r.levelno), r.getMessage()) for r in seen]
    assert len(seen) == len(expect.logs), said
    for record, log in zip(seen, expect.logs, strict=True):
        assert log.matches(record), (said, log)
    quiet = [r for r in records if r.exc_info and r.levelno < expect.log_level]
    assert not quiet, [r.getMessage() for r in quiet]


def _check_access(result: Result, expect: Vector) -> None:
    access = [r for r in result.logs if r.name == "middleware.access"]
    if expect.outcome is None:
        assert not access, [r.getMessage() for r in access]
        return
    assert len(access) == 1, [r.getMessage() for r in access]
    record: Any = access[0]
    assert (record.status, record.outcome) == (result.status, expect.outcome)
    assert record.request_id == result.header("x-request-id")


# --- many requests at once -----------------------------------------------------------------------


def run_together(
    serve: Any, wrap: Wrap, reply: Reply, vectors: list[Vector], *, threads: int = 32
) -> list[Result]:
    """Serve ``vectors`` (the same ``reply``, their own requests) at once through one stack:
    ASGI, every request on one event loop; WSGI, ``threads`` threads sharing the stack, with
    thread switches far more often than the default 5 ms. Each result gets the checks of
    ``run_vector`` but the log ones, which cannot be told apart per request (``verify`` with
    the logs of all); returns the results in the vectors' order."""
    assert all(vector.reply is reply for vector in vectors)
    probe = Probe()
    with captured_logs() as logs:
        if serve.protocol == "asgi":
            results = asyncio.run(
                _asgi_together(wrap(serve.module, asgi_app(reply, probe)), vectors)
            )
        else:
            results = _wsgi_together(wrap(serve.module, wsgi_app(reply, probe)), vectors, threads)
    assert probe.calls == len(vectors)
    if serve.protocol == "wsgi":
        assert probe.closed == probe.returned == len(vectors)
    for result, vector in zip(results, vectors, strict=True):
        expect = vector.on(serve.protocol)
        check(result, expect, body=read_body(result, expect))
        assert result.error is None and result.complete
    result_logs = list(logs)
    for result in results:
        result.logs = result_logs
    return results


async def _asgi_together(app: Any, vectors: list[Vector]) -> list[Result]:
    results = await asyncio.gather(*(_acall(app, vector) for vector in vectors))
    await asyncio.sleep(0)
    current = asyncio.current_task()
    left = [task for task in asyncio.all_tasks() if task is not current]
    assert not left, f"tasks left behind: {left!r}"
    return list(results)


def _acall(app: Any, vector: Vector) -> Any:
    r = vector.request
    return acall(app, r.method, r.path, r.query, list(r.headers), r.body)


def _wsgi_together(app: Any, vectors: list[Vector], threads: int) -> list[Result]:
    results: dict[int, Result] = {}
    failures: list[BaseException] = []
    barrier = threading.Barrier(threads)

    def worker(index: int) -> None:
        try:
            barrier.wait()
            for n in range(index, len(vectors), threads):
                r = vectors[n].request
                results[n] = call_wsgi(app, r.method, r.path, r.query, list(r.headers), r.body)
        except BaseException as exc:  # reported by the main thread
            failures.append(exc)

    interval = sys.getswitchinterval()
    sys.setswitchinterval(1e-5)
    try:
        workers = [threading.Thread(target=worker, args=(i,)) for i in range(threads)]
        for thread in workers:
            thread.start()
        for thread in workers:
            thread.join()
    finally:
        sys.setswitchinterval(interval)
    assert not failures, failures[0]
    assert sorted(results) == list(range(len(vectors)))
    return [results[n] for n in range(len(vectors))]
