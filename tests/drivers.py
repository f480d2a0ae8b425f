"""In-process drivers for both protocols, recording everything a test may assert on.

``call_wsgi`` plays a PEP 3333 server: it wraps ``wsgiref.validate.validator`` around the
application it is given (the middleware under test), honours ``exc_info`` restarts and the
``write()`` callable, iterates the body and always calls ``close()``. Test apps are wrapped in
the validator too (see ``tests/parity/vectors.py``), so both sides of every middleware are
checked.

``call_asgi`` plays an ASGI 3 server: it records every message sent (so tests can assert
per-chunk behaviour, trailers and pathsend), checks their order, and can simulate a client
that disconnects.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import quote
from wsgiref.validate import validator

HeaderPairs = list[tuple[str, str]]


@dataclass
class Result:
    """What a client would have received, the same shape for both protocols."""

    status: int
    headers: HeaderPairs  # names lower-case
    body: bytes
    chunks: list[bytes] = field(default_factory=list)  # non-empty body pieces, as sent
    messages: list[dict[str, Any]] = field(default_factory=list)  # ASGI only
    error: BaseException | None = None  # what the app stack raised (ASGI re-raises)
    # The client got the whole response: WSGI, the iterable ran out (close() may still have
    # raised); ASGI, the final message was sent.
    complete: bool = False
    tasks_left: list[asyncio.Task[Any]] = field(default_factory=list)  # call_asgi only
    logs: list[logging.LogRecord] = field(default_factory=list)  # filled by the parity runner

    def header(self, name: str) -> str | None:
        values = self.header_all(name)
        return values[0] if values else None

    def header_all(self, name: str) -> list[str]:
        return [value for key, value in self.headers if key == name.lower()]


def _environ(
    method: str, path: str, query: str, headers: HeaderPairs, body: bytes
) -> dict[str, Any]:
    import io

    environ: dict[str, Any] = {
        "REQUEST_METHOD": method,
        "SCRIPT_NAME": "",
        "PATH_INFO": path.encode("utf-8").decode("latin-1"),
        "QUERY_STRING": query,
        "SERVER_NAME": "testserver",
        "SERVER_PORT": "80",
        "SERVER_PROTOCOL": "HTTP/1.1",
        "REMOTE_ADDR": "127.0.0.1",
        "wsgi.version": (1, 0),
        "wsgi.url_scheme": "http",
        "wsgi.input": io.BytesIO(body),
        "wsgi.errors": sys.stderr,
        "wsgi.multithread": False,
        "wsgi.multiprocess": False,
        "wsgi.run_once": False,
    }
    for name, value in headers:
        key = name.upper().replace("-", "_")
        if key not in ("CONTENT_TYPE", "CONTENT_LENGTH"):
            key = "HTTP_" + key
        if key in environ:
            environ[key] += "," + value
        else:
            environ[key] = value
    if body and "CONTENT_LENGTH" not in environ:
        environ["CONTENT_LENGTH"] = str(len(body))
    return environ


def call_wsgi(
    app: Callable[..., Iterable[bytes]],
    method: str = "GET",
    path: str = "/",
    query: str = "",
    headers: HeaderPairs | None = None,
    body: bytes = b"",
    *,
    environ: dict[str, Any] | None = None,
    validate: bool = True,
    stop_after: int | None = None,
    catch_late: bool = False,
) -> Result:
    """Serve one request to a WSGI ``app``; ``stop_after=n`` abandons the body after n chunks.

    An exception out of the app call after ``write()`` sent bytes, or out of the iterable's
    ``close()``, propagates, unless ``catch_late`` is set: then it is in ``.error`` (a server
    logs it; the client got what was sent), if nothing was raised before it.
    """
    env = _environ(method, path, query, list(headers or ()), body)
    if environ:
        env.update(environ)
    state: dict[str, Any] = {"status": None, "headers": None, "sent": False}
    chunks: list[bytes] = []

    def start_response(status: str, response_headers: HeaderPairs, exc_info: Any = None) -> Any:
        if exc_info is not None:
            try:
                if state["sent"]:
                    raise exc_info[1].with_traceback(exc_info[2])
            finally:
                exc_info = None
        elif state["status"] is not None:
            raise AssertionError("start_response called twice without exc_info")
        state["status"], state["headers"] = status, response_headers
        return write

    def write(data: bytes) -> None:
        assert state["status"] is not None, "write() before start_response"
        state["sent"] = True
        if data:
            chunks.append(data)

    served = validator(app) if validate else app
    error: BaseException | None = None
    complete = False
    try:
        iterable = served(env, start_response)
    except Exception as exc:
        if not (catch_late and state["sent"]):
            raise
        error, iterable = exc, ()
    try:
        for count, chunk in enumerate(iterable, 1):
            if chunk:
                state["sent"] = True
                chunks.append(chunk)
            if stop_after is not None and count >= stop_after:
                break
        else:
            complete = error is None
    except Exception as exc:
        # A real server logs this and cuts the connection; the test sees it in .error.
        error = exc
    finally:
        close = getattr(iterable, "close", None)
        if close is not None:
            try:
                close()
            except Exception as exc:
                if not catch_late or error is not None:
                    raise
                error = exc
    if state["status"] is None:
        if error is not None:
            raise error
        raise AssertionError("the response never started")
    return Result(
        status=int(state["status"][:3]),
        headers=[(name.lower(), value) for name, value in state["headers"]],
        body=b"".join(chunks),
        chunks=chunks,
        error=error,
        complete=complete,
    )


_FINAL_TYPES = ("http.response.pathsend", "http.response.zerocopysend")


async def acall(
    app: Callable[..., Any],
    method: str = "GET",
    path: str = "/",
    query: str = "",
    headers: HeaderPairs | None = None,
    body: bytes = b"",
    *,
    scope: dict[str, Any] | None = None,
    disconnect_after: int | None = None,
    body_chunks: list[bytes] | None = None,
) -> Result:
    """Serve one HTTP request to an ASGI ``app`` and record what it sent.

    ``disconnect_after=n``: the client leaves after n body messages; the next ``send`` raises
    OSError (as uvicorn's does) and ``receive`` answers ``http.disconnect``.
    """
    raw = [
        (name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers or ()
    ]
    full_scope: dict[str, Any] = {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": method,
        "scheme": "http",
        "path": path,
        "raw_path": quote(path).encode("ascii"),
        "query_string": query.encode("latin-1"),
        "root_path": "",
        "headers": raw,
        "client": ("127.0.0.1", 50000),
        "server": ("testserver", 80),
        "extensions": {},
        "state": {},
    }
    if scope:
        full_scope.update(scope)
    pieces = list(body_chunks) if body_chunks is not None else [body]
    messages: list[dict[str, Any]] = []
    gone = asyncio.Event()
    done = asyncio.Event()

    async def receive() -> dict[str, Any]:
        if pieces:
            piece = pieces.pop(0)
            return {"type": "http.request", "body": piece, "more_body": bool(pieces)}
        waiter = asyncio.ensure_future(gone.wait())
        finished = asyncio.ensure_future(done.wait())
        await asyncio.wait([waiter, finished], return_when=asyncio.FIRST_COMPLETED)
        waiter.cancel()
        finished.cancel()
        return {"type": "http.disconnect"}

    async def send(message: dict[str, Any]) -> None:
        _check_order(messages, message)
        if gone.is_set():
            raise OSError("client disconnected")
        messages.append(message)
        body_count = sum(1 for m in messages if m["type"] == "http.response.body")
        if disconnect_after is not None and body_count >= disconnect_after:
            gone.set()
        if _is_final(messages):
            done.set()

    error: BaseException | None = None
    try:
        await app(full_scope, receive, send)
    except Exception as exc:
        error = exc
    return _asgi_result(messages, error)


def call_asgi(app: Callable[..., Any], *args: Any, **kwargs: Any) -> Result:
    """``acall`` for synchronous tests, on a loop of its own: any task still pending once the
    request is over (after one more turn of the loop) is in ``tasks_left``."""

    async def main() -> Result:
        result = await acall(app, *args, **kwargs)
        await asyncio.sleep(0)
        current = asyncio.current_task()
        result.tasks_left = [task for task in asyncio.all_tasks() if task is not current]
        return result

    return asyncio.run(main())


def _is_final(messages: list[dict[str, Any]]) -> bool:
    start = next((m for m in messages if m["type"] == "http.response.start"), None)
    last = messages[-1]
    if last["type"] in _FINAL_TYPES:
        return True
    if start is not None and start.get("trailers"):
        return last["type"] == "http.response.trailers" and not last.get("more_trailers")
    return last["type"] == "http.response.body" and not last.get("more_body", False)


def _check_order(sent: list[dict[str, Any]], message: dict[str, Any]) -> None:
    kind = message["type"]
    started = any(m["type"] == "http.response.start" for m in sent)
    if kind == "http.response.start":
        assert not started, "http.response.start sent twice"
        assert isinstance(message["status"], int)
        for name, value in message.get("headers", ()):
            assert isinstance(name, bytes) and isinstance(value, bytes), (name, value)
            assert name == name.lower(), f"header name not lower-case: {name!r}"
    elif kind in ("http.response.body", "http.response.trailers", *_FINAL_TYPES):
        assert started, f"{kind} before http.response.start"
        assert not (sent and _is_final(sent)), f"{kind} after the response ended"
        if kind == "http.response.body":
            assert isinstance(message.get("body", b""), bytes)


def _asgi_result(messages: list[dict[str, Any]], error: BaseException | None) -> Result:
    start = next((m for m in messages if m["type"] == "http.response.start"), None)
    if start is None:
        if error is not None:
            raise error
        raise AssertionError(f"no http.response.start in {messages!r}")
    chunks = [m["body"] for m in messages if m["type"] == "http.response.body" and m.get("body")]
    return Result(
        status=start["status"],
        headers=[(n.decode("latin-1"), v.decode("latin-1")) for n, v in start.get("headers", ())],
        body=b"".join(chunks),
        chunks=chunks,
        messages=messages,
        error=error,
        complete=_is_final(messages),
    )


class Capture(logging.Handler):
    """Keeps every record its logger handles (the ``access`` fixture's handler)."""

    def __init__(self) -> None:
        super().__init__(logging.DEBUG)
        self.records: list[logging.LogRecord] = []

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)

    def one(self, fields: Iterable[str]) -> dict[str, Any]:
        """``fields`` of the one record written (there must be exactly one)."""
        assert len(self.records) == 1, [r.getMessage() for r in self.records]
        return {name: getattr(self.records[0], name) for name in fields}
