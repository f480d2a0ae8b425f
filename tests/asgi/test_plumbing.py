"""ASGI rules of the shared plumbing, shown through TimingMiddleware."""

from __future__ import annotations

import asyncio
import threading
from typing import Any

import anyio
import pytest

from middleware import timing
from middleware.asgi import TimingMiddleware, _scope
from middleware.asgi._scope import ASGILayer, Exchange
from middleware.core.responses import Response, plain
from tests.drivers import acall
from tests.parity.vectors import Boom, Reply, asgi_app

START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/plain")],
}


async def test_lifespan_and_websocket_pass_through_untouched() -> None:
    seen: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        seen.append((scope, receive, send))

    stack = TimingMiddleware(app)
    for kind in ("lifespan", "websocket"):
        scope = {"type": kind}

        async def receive() -> Any:
            return {}

        async def send(message: Any) -> None:
            pass

        await stack(scope, receive, send)
        assert seen[-1] == (scope, receive, send)


async def test_asgi2_app_is_accepted() -> None:
    class Legacy:
        def __init__(self, scope: Any) -> None:
            self.scope = scope

        async def __call__(self, receive: Any, send: Any) -> None:
            await send(START)
            await send({"type": "http.response.body", "body": b"old"})

    result = await acall(TimingMiddleware(Legacy))
    assert result.body == b"old" and result.header("server-timing") is not None


def test_wsgi_app_rejected_with_the_twin_named() -> None:
    def wsgi(environ: Any, start_response: Any) -> Any:
        return []

    with pytest.raises(TypeError, match=r"use middleware\.wsgi\.TimingMiddleware"):
        TimingMiddleware(wsgi)


async def test_exception_propagates_unchanged_after_crash_answer() -> None:
    error = Boom("the original")

    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise error

    result = await acall(TimingMiddleware(app))
    assert result.error is error
    assert result.status == 500 and result.body == b"Internal Server Error"
    assert result.header("server-timing") is not None


async def test_trailers_forwarded_and_completion_waits_for_them() -> None:
    done: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({**START, "trailers": True})
        await send({"type": "http.response.body", "body": b"x", "more_body": False})
        assert not done, "on_complete ran before the trailers"
        await send({"type": "http.response.trailers", "headers": [(b"x-sum", b"1")]})

    result = await acall(TimingMiddleware(app, on_complete=done.append))
    assert [m["type"] for m in result.messages][-1] == "http.response.trailers"
    assert result.messages[-1]["headers"] == [(b"x-sum", b"1")]
    assert len(done) == 1


@pytest.mark.parametrize(
    "extra",
    [
        pytest.param({"type": "http.response.debug", "info": {}}, id="debug"),
        pytest.param({"type": "http.response.early_hint", "links": []}, id="early-hint"),
    ],
)
async def test_messages_before_start_are_forwarded(extra: dict[str, Any]) -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(extra)
        await send(START)
        await send({"type": "http.response.body", "body": b"ok"})

    result = await acall(TimingMiddleware(app))
    assert result.messages[0] is extra


async def test_pathsend_forwarded_and_completes() -> None:
    done: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(START)
        await send({"type": "http.response.pathsend", "path": "/etc/hostname"})

    result = await acall(
        TimingMiddleware(app, on_complete=done.append),
        scope={"extensions": {"http.response.pathsend": {}}},
    )
    assert result.messages[-1] == {"type": "http.response.pathsend", "path": "/etc/hostname"}
    assert len(done) == 1


@pytest.mark.parametrize(
    "last",
    [
        pytest.param({"type": "http.response.pathsend", "path": "/etc/hostname"}, id="pathsend"),
        pytest.param(
            {"type": "http.response.zerocopysend", "file": 0, "count": 3}, id="zerocopysend"
        ),
    ],
)
async def test_on_complete_runs_once_a_file_response_is_sent(last: dict[str, Any]) -> None:
    done: list[Any] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(START)
        await send(last)
        assert len(done) == 1, "on_complete waited for the app to return"

    extension = last["type"]
    result = await acall(
        TimingMiddleware(app, on_complete=done.append), scope={"extensions": {extension: {}}}
    )
    assert result.error is None and len(done) == 1


async def test_client_disconnect_mid_body() -> None:
    done: list[Any] = []
    reply = Reply(chunks=(b"a", b"b", b"c"))
    result = await acall(
        TimingMiddleware(asgi_app(reply), on_complete=done.append), disconnect_after=1
    )
    assert isinstance(result.error, OSError)
    assert result.body == b"a" and len(done) == 1


async def test_app_headers_list_is_not_mutated() -> None:
    shared = [(b"content-type", b"text/plain")]

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send({"type": "http.response.start", "status": 200, "headers": shared})
        await send({"type": "http.response.body", "body": b""})

    await acall(TimingMiddleware(app))
    assert shared == [(b"content-type", b"text/plain")]


async def test_metrics_from_child_tasks_and_no_cross_talk_across_200_requests() -> None:
    async def app(scope: Any, receive: Any, send: Any) -> None:
        me = scope["query_string"].decode()

        async def child() -> None:
            await asyncio.sleep(0)
            timing.record(f"child{me}", 1)

        timing.record(f"req{me}", 1)
        await asyncio.sleep(0.001)
        await asyncio.create_task(child())
        await send(START)
        await send({"type": "http.response.body", "body": me.encode()})

    stack = TimingMiddleware(app)
    results = await asyncio.gather(*(acall(stack, query=str(n)) for n in range(200)))
    for n, result in enumerate(results):
        entries = [e.split(";")[0] for e in (result.header("server-timing") or "").split(", ")]
        assert entries == ["app", f"req{n}", f"child{n}"]
    assert timing.current.get() is None


async def test_django_capitalised_header_names_are_lowered() -> None:
    class Handler:
        async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
            headers = [(b"Content-Type", b"text/plain"), (b"Vary", b"Cookie")]
            await send({"type": "http.response.start", "status": 200, "headers": headers})
            await send({"type": "http.response.body", "body": b"ok"})

    Handler.__module__ = "django.core.handlers.asgi"  # what Django's ASGIHandler reports
    result = await acall(TimingMiddleware(Handler()))
    names = [name for name, _ in result.messages[0]["headers"]]
    assert names == [b"content-type", b"vary", b"server-timing"]


class _Teapot(Exception):
    pass


class _AnsweringExchange(Exchange):
    def answer_for(self, error: BaseException) -> Response | None:
        return plain(418, b"teapot") if isinstance(error, _Teapot) else None


class _AnsweringLayer(ASGILayer):
    _name = "AnsweringLayer"

    def __init__(self, app: Any) -> None:
        self.app = app

    def http(self, scope: Any, receive: Any, send: Any) -> Any:
        return _AnsweringExchange(scope, receive, send)


@pytest.mark.parametrize("raised", [_Teapot, ValueError])
async def test_an_exchange_may_answer_an_error_instead_of_a_crash(raised: type) -> None:
    # Exchange.answer_for, through ASGILayer.__call__'s inline run: an answered error is sent
    # and not raised; any other is the plain 500, re-raised.
    async def app(scope: Any, receive: Any, send: Any) -> None:
        raise raised

    sent: list[Any] = []

    async def send(message: Any) -> None:
        sent.append(message)

    async def receive() -> Any:
        return {"type": "http.request"}

    layer = _AnsweringLayer(app)
    if raised is _Teapot:
        await layer({"type": "http", "headers": []}, receive, send)
        assert (sent[0]["status"], sent[1]["body"]) == (418, b"teapot")
    else:
        with pytest.raises(ValueError):
            await layer({"type": "http", "headers": []}, receive, send)
        assert sent[0]["status"] == 500


@pytest.mark.parametrize("by", ["task.cancel", "anyio-scope"])
async def test_a_cancelled_thread_call_waits_for_the_thread(by: str) -> None:
    # The caller's encoder (and its pooled zstd context) is released once the call returns: it
    # must not return, even cancelled, while the thread still uses them.
    started, release = threading.Event(), threading.Event()
    finished: list[bool] = []

    def work() -> None:
        started.set()
        release.wait(5)
        finished.append(True)

    scope = anyio.CancelScope()

    async def call() -> None:
        with scope:
            await _scope.in_thread(work)
        raise asyncio.CancelledError  # the scope swallowed its own cancellation

    task = asyncio.ensure_future(call() if by == "anyio-scope" else _scope.in_thread(work))
    while not started.is_set():
        await asyncio.sleep(0.001)
    for _ in range(2):  # a second cancel does not cut the wait short either
        scope.cancel() if by == "anyio-scope" else task.cancel()
        await asyncio.sleep(0.03)
        assert not task.done()  # still waiting for the thread, though cancelled
    release.set()
    with pytest.raises(asyncio.CancelledError):
        await task
    assert finished == [True]
