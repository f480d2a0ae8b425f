"""A client that leaves mid-stream, as uvicorn and hypercorn report it (ASGI only).

Those servers drop every ``send`` after the client left, without an error, and answer the app's
``receive()`` with ``http.disconnect``. From that moment (SPEC, Request logging) the access
record says "disconnected" with the bytes sent before it, and compression encodes nothing more:
the app's later messages reach the server emptied. ``LeavingClient`` plays such a server.
"""

from __future__ import annotations

import asyncio
import gzip
import zlib
from typing import Any

import pytest

import middleware.asgi as masgi
from middleware import Middleware
from middleware.asgi import CompressionMiddleware, RequestLoggingMiddleware
from middleware.core import codecs

HTML_START = {
    "type": "http.response.start",
    "status": 200,
    "headers": [(b"content-type", b"text/html; charset=utf-8")],
}
CHUNK = b"<p>" + b"x" * 600 + b"</p>\n"
CHUNKS = 6


class LeavingClient:
    """An ASGI server whose client leaves after ``leave_after`` body messages.

    Later sends are dropped silently and ``receive()`` then answers ``http.disconnect``, as
    uvicorn and hypercorn do. ``left_after_end``: the client only leaves once the response
    ended (uvicorn answers ``receive()`` with ``http.disconnect`` then too).
    """

    def __init__(self, leave_after: int | None, *, yield_in_last_send: bool = False) -> None:
        self.leave_after = leave_after
        self.yield_in_last_send = yield_in_last_send
        self.sent: list[dict[str, Any]] = []
        self.dropped: list[dict[str, Any]] = []
        self.left = asyncio.Event()
        self._requested = False

    async def receive(self) -> dict[str, Any]:
        if not self._requested:
            self._requested = True
            return {"type": "http.request", "body": b"", "more_body": False}
        await self.left.wait()
        return {"type": "http.disconnect"}

    async def send(self, message: dict[str, Any]) -> None:
        if self.left.is_set():
            self.dropped.append(message)
            return
        self.sent.append(message)
        bodies = [m for m in self.sent if m["type"] == "http.response.body"]
        last = message["type"] == "http.response.body" and not message.get("more_body", False)
        if last and self.yield_in_last_send:
            # The end of the response reaches the client, and the connection closes while
            # this send is still on its way (hypercorn awaits inside its send).
            self.left.set()
            await asyncio.sleep(0)
            await asyncio.sleep(0)
        elif self.leave_after is not None and len(bodies) >= self.leave_after:
            self.left.set()

    def body(self) -> bytes:
        return b"".join(m.get("body", b"") for m in self.sent if m["type"] == "http.response.body")


def streaming_app(chunks: int = CHUNKS, start: dict[str, Any] = HTML_START) -> Any:
    """Streams ``chunks`` pieces whatever happens, while another task listens for the
    disconnect (as Starlette's StreamingResponse does): the app hears, and goes on."""

    async def app(scope: Any, receive: Any, send: Any) -> None:
        heard: list[str] = []

        async def listen() -> None:
            while (await receive())["type"] != "http.disconnect":
                pass
            heard.append("disconnect")

        listener = asyncio.create_task(listen())
        await send(start)
        for index in range(chunks):
            await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
            # Let the listener run between chunks, as a real app's awaits do.
            await asyncio.sleep(0)
            await asyncio.sleep(0)
            assert index < chunks
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        listener.cancel()

    return app


class Tracked:
    """A stream encoder that counts its compress() calls."""

    def __init__(self, encoder: Any) -> None:
        self.encoder = encoder
        self.calls: list[int] = []

    @property
    def _zlib(self) -> Any:  # None once finished or closed: nothing left behind
        return self.encoder._zlib

    def compress(self, data: bytes) -> bytes:
        self.calls.append(len(data))
        return self.encoder.compress(data)  # type: ignore[no-any-return]

    def finish(self) -> bytes:
        return self.encoder.finish()  # type: ignore[no-any-return]

    def close(self) -> None:
        self.encoder.close()


@pytest.fixture
def encoders(monkeypatch: pytest.MonkeyPatch) -> list[Tracked]:
    """Every gzip stream encoder made."""
    made: list[Tracked] = []
    original = codecs.GzipCodec.encoder

    def tracked(self: Any, size_hint: int | None) -> Any:
        encoder = Tracked(original(self, size_hint))
        made.append(encoder)
        return encoder

    monkeypatch.setattr(codecs.GzipCodec, "encoder", tracked)
    return made


def _scope(accept: bytes = b"gzip") -> dict[str, Any]:
    return {
        "type": "http",
        "asgi": {"version": "3.0", "spec_version": "2.4"},
        "http_version": "1.1",
        "method": "GET",
        "scheme": "http",
        "path": "/stream",
        "query_string": b"",
        "root_path": "",
        "headers": [(b"accept-encoding", accept)],
        "client": ("127.0.0.1", 1),
        "server": ("testserver", 80),
    }


async def _serve(app: Any, client: LeavingClient, accept: bytes = b"gzip") -> None:
    await app(_scope(accept), client.receive, client.send)
    await asyncio.sleep(0)
    left = [task for task in asyncio.all_tasks() if task is not asyncio.current_task()]
    assert not left, f"tasks left behind: {left!r}"


# --- the access record ----------------------------------------------------------------------


async def test_record_says_disconnected_with_the_bytes_sent_before(access: Any) -> None:
    logger, capture = access
    client = LeavingClient(leave_after=2)
    await _serve(RequestLoggingMiddleware(streaming_app(), logger=logger), client)
    assert len(client.dropped) == CHUNKS - 2 + 1  # the app went on; the server dropped it all
    assert [(r.status, r.bytes, r.outcome) for r in capture.records] == [
        (200, 2 * len(CHUNK), "disconnected")
    ]


async def test_disconnect_after_the_response_ended_is_no_disconnect(access: Any) -> None:
    # uvicorn answers receive() with http.disconnect once the response is complete.
    logger, capture = access
    client = LeavingClient(leave_after=None)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(HTML_START)
        await send({"type": "http.response.body", "body": CHUNK})
        client.left.set()
        assert (await receive())["type"] == "http.request"
        assert (await receive())["type"] == "http.disconnect"

    await _serve(RequestLoggingMiddleware(app, logger=logger), client)
    assert [(r.bytes, r.outcome) for r in capture.records] == [(len(CHUNK), "completed")]


async def test_disconnect_heard_while_the_last_message_is_sent_is_no_disconnect(
    access: Any,
) -> None:
    logger, capture = access
    client = LeavingClient(leave_after=None, yield_in_last_send=True)
    await _serve(RequestLoggingMiddleware(streaming_app(chunks=2), logger=logger), client)
    assert [(r.bytes, r.outcome) for r in capture.records] == [(2 * len(CHUNK), "completed")]


async def test_disconnect_before_the_response_started(access: Any) -> None:
    logger, capture = access
    client = LeavingClient(leave_after=0)
    client.left.set()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        assert (await receive())["type"] == "http.request"
        assert (await receive())["type"] == "http.disconnect"
        await send(HTML_START)
        await send({"type": "http.response.body", "body": CHUNK})

    await _serve(RequestLoggingMiddleware(app, logger=logger), client)
    assert [(r.status, r.bytes, r.outcome) for r in capture.records] == [(200, 0, "disconnected")]


async def test_app_that_raises_after_the_disconnect_is_still_disconnected(access: Any) -> None:
    logger, capture = access
    client = LeavingClient(leave_after=1)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(HTML_START)
        await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        await receive()
        assert (await receive())["type"] == "http.disconnect"
        raise OSError("the app gives up on the gone client")

    with pytest.raises(OSError):
        await RequestLoggingMiddleware(app, logger=logger)(_scope(), client.receive, client.send)
    assert [(r.bytes, r.outcome) for r in capture.records] == [(len(CHUNK), "disconnected")]


# --- compression --------------------------------------------------------------------------------


async def test_compression_stops_encoding_and_forwards_empty_messages(
    encoders: list[Any],
) -> None:
    client = LeavingClient(leave_after=2)
    await _serve(CompressionMiddleware(streaming_app(), minimum_size=10), client)
    # The two chunks sent before the client left were encoded and flushed, nothing after.
    (encoder,) = encoders
    assert encoder.calls == [len(CHUNK), len(CHUNK)]
    assert encoder._zlib is None  # released at the first message after the disconnect
    assert zlib.decompressobj(16 + zlib.MAX_WBITS).decompress(client.body()) == CHUNK * 2
    # The app's later messages still reach the server (which drops them), emptied.
    assert client.dropped == [
        *[{"type": "http.response.body", "body": b"", "more_body": True}] * (CHUNKS - 2),
        {"type": "http.response.body", "body": b"", "more_body": False},
    ]


async def test_compression_releases_the_encoder_at_the_next_message(encoders: list[Any]) -> None:
    client = LeavingClient(leave_after=1)
    released: list[bool] = []

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(HTML_START)
        await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        await receive()
        assert (await receive())["type"] == "http.disconnect"
        await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        released.append(encoders[0]._zlib is None)  # before the app's end
        await asyncio.sleep(0)
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    await _serve(CompressionMiddleware(app, minimum_size=10), client)
    assert released == [True]
    assert encoders[0].calls == [len(CHUNK)]


async def test_compression_with_a_held_start_sends_it_then_empty_bodies(
    encoders: list[Any],
) -> None:
    # A start is held until the first body decides the encoding; the client leaves first.
    client = LeavingClient(leave_after=None)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(HTML_START)
        client.left.set()
        await receive()
        assert (await receive())["type"] == "http.disconnect"
        await send({"type": "http.response.body", "body": CHUNK * 3, "more_body": False})

    await _serve(CompressionMiddleware(app, minimum_size=10), client)
    assert encoders == []  # nothing was encoded
    assert [m["type"] for m in client.dropped] == ["http.response.start", "http.response.body"]
    assert client.dropped[1]["body"] == b""


async def test_compression_client_gone_before_the_start(encoders: list[Any]) -> None:
    client = LeavingClient(leave_after=0)
    client.left.set()

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await receive()
        assert (await receive())["type"] == "http.disconnect"
        await send(HTML_START)
        await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})

    await _serve(CompressionMiddleware(app, minimum_size=10), client)
    assert encoders == []
    assert client.dropped[0] is HTML_START  # forwarded as it is: nothing to decide for nobody


async def test_compression_after_a_complete_response_is_unaffected(encoders: list[Any]) -> None:
    client = LeavingClient(leave_after=None)

    async def app(scope: Any, receive: Any, send: Any) -> None:
        await send(HTML_START)
        await send({"type": "http.response.body", "body": CHUNK, "more_body": True})
        await send({"type": "http.response.body", "body": b"", "more_body": False})
        client.left.set()
        await receive()
        assert (await receive())["type"] == "http.disconnect"

    await _serve(CompressionMiddleware(app, minimum_size=10), client)
    assert gzip.decompress(client.body()) == CHUNK
    assert client.dropped == []


# --- the whole stack ------------------------------------------------------------------------


async def test_stack_record_and_encoder_after_a_disconnect(
    access: Any, encoders: list[Any]
) -> None:
    logger, capture = access
    completed: list[Any] = []
    stack = masgi.compose(
        Middleware(masgi.RequestLoggingMiddleware, logger=logger),
        Middleware(masgi.TimingMiddleware, on_complete=completed.append),
        Middleware(masgi.CORSMiddleware, allow_origins=["https://app.example"]),
        Middleware(masgi.SessionMiddleware, secret_key="s3cret-for-disconnects"),
        Middleware(masgi.CompressionMiddleware, minimum_size=10),
    )(streaming_app())
    client = LeavingClient(leave_after=3)
    await _serve(stack, client)
    (encoder,) = encoders
    assert encoder.calls == [len(CHUNK)] * 3 and encoder._zlib is None
    sent = sum(len(m.get("body", b"")) for m in client.sent if m["type"] == "http.response.body")
    assert [(r.status, r.bytes, r.outcome) for r in capture.records] == [
        (200, sent, "disconnected")
    ]
    assert len(completed) == 1
