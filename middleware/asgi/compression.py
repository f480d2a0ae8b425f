"""Response compression (zstd, br, gzip) and request decompression for ASGI apps.

    from middleware.asgi import CompressionMiddleware, GZipMiddleware

    app.add_middleware(CompressionMiddleware, minimum_size=500)
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=6)   # Starlette's

The decisions are ``middleware.core.compression``'s; this module only moves ASGI messages.
``http.response.start`` is held until the first body message when the answer depends on it
(is that message the whole body? then it gets an exact Content-Length, or none if it is too
small to compress). Each body message leaves compressed and flushed at once. A pathsend
response goes out uncompressed with its own start; trailers, early hints, debug and unknown
messages are forwarded. A client that disconnects, or an app that raises, releases the encoder;
once the app's ``receive()`` returned ``http.disconnect``, nothing more is encoded: the app's
later body messages go to the server (which drops them) with empty bodies.

Options: see ``CompressionLayer`` and ``GZipLayer`` (the same on both protocols).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

from .._layers import CompressionLayer, GZipLayer
from ..core.compression import CompressionPolicy, Phase, ResponseCompression
from ..core.compression import decoded_request_headers as decoded_headers
from ..core.headers import get_list
from ..core.responses import Response
from ._scope import (
    ASGIApp,
    ASGILayer,
    Exchange,
    Message,
    Receive,
    Scope,
    Send,
    app_path,
    send_response,
)

_anyio_run_sync: Callable[..., Any] | None
try:
    from anyio.to_thread import run_sync as _anyio_run_sync
except ImportError:  # anyio comes with Starlette, not with every ASGI app
    _anyio_run_sync = None

__all__ = ["CompressionMiddleware", "GZipMiddleware"]

_ZEROCOPY = "http.response.zerocopysend"
_FILE_BLOCK = 65_536


class CompressionMiddleware(ASGILayer, CompressionLayer):
    """Compress an ASGI app's responses with the best coding the client accepts."""

    def http(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        return _compress(self.app, self.policy, scope, receive, send)


class GZipMiddleware(ASGILayer, GZipLayer):
    """Starlette's GZipMiddleware for an ASGI app: large chunks are gzipped in a thread."""

    def http(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None]:
        return _compress(self.app, self.policy, scope, receive, send)


def _compress(
    app: ASGIApp, policy: CompressionPolicy, scope: Scope, receive: Receive, send: Send
) -> Awaitable[None]:
    if policy.reads_requests:
        return _screen(app, policy, scope, receive, send)
    return _Compressing(_offered(policy, scope), receive, send, policy).run(app)


async def _screen(
    app: ASGIApp, policy: CompressionPolicy, scope: Scope, receive: Receive, send: Send
) -> None:
    """``exclude_paths`` and request decoding, before the app runs."""
    if policy.filters_paths and policy.excludes(app_path(scope)):
        await app(scope, receive, send)
        return
    if policy.decompress_requests:
        decoded = await _decode_request(policy, scope, receive, send)
        if decoded is None:
            return
        scope, receive = decoded
    await _Compressing(_offered(policy, scope), receive, send, policy).run(app)


def _offered(policy: CompressionPolicy, scope: Scope) -> Scope:
    """The scope the app gets: an encoded response cannot be a zero-copy file, so
    ``http.response.zerocopysend`` is hidden (in a copy) when the client accepts a coding."""
    extensions = scope.get("extensions")
    if not extensions or _ZEROCOPY not in extensions:
        return scope
    if policy.negotiate(get_list(scope["headers"], b"accept-encoding")) is None:
        return scope
    return {**scope, "extensions": {k: v for k, v in extensions.items() if k != _ZEROCOPY}}


class _Compressing(Exchange):
    """One response: its start decided (or held while the first body message decides), its
    body encoded. ``response`` is the core's per-response object, made only when the head may
    be encoded: a response left as it is passes through with none."""

    __slots__ = ("gone", "held", "policy", "response", "server_receive")

    def __init__(self, scope: Scope, receive: Receive, send: Send, policy: CompressionPolicy):
        super().__init__(scope, self._watched_receive, send)
        self.server_receive = receive
        self.policy = policy
        self.response: ResponseCompression | None = None
        self.held: Message | None = None  # the app's start, while the core holds it
        # The client left (the app's receive() said so): nothing more is encoded for nobody.
        # The encoder is released by the next message: another may be encoding in a thread.
        self.gone = False

    async def _watched_receive(self) -> Message:
        message = await self.server_receive()
        if message["type"] == "http.disconnect":
            self.gone = True
        return message

    def send(self, message: Message) -> Awaitable[None]:
        response = self.response
        if response is not None:
            return self._through(response, message)
        if self.started:
            return self.server_send(message)  # left as it is
        kind = message["type"]
        if kind == "http.response.start":
            return self._start(message)
        if kind == "http.response.body":
            raise RuntimeError("The app sent a body before the response start.")
        return self.server_send(message)

    def _start(self, message: Message) -> Awaitable[None]:
        status, headers = message["status"], message.get("headers", [])
        # Once the client left, nothing is decided for nobody: the start passes as it is.
        head = headers if self.gone else self.policy.left_as_is(status, headers)
        if head is None:
            scope = self.scope
            response = self.policy.begin(scope["headers"], head_request=scope["method"] == "HEAD")
            head = response.start(status, headers, trailers=message.get("trailers", False))
            if head is Phase.HELD:
                self.response, self.held = response, message
                return _nothing()
            if response.phase is not Phase.IDENTITY:
                self.response = response
        self.started = True
        return self.server_send(message if head is headers else {**message, "headers": head})

    def _through(self, response: ResponseCompression, message: Message) -> Awaitable[None]:
        """A message of a response whose body goes through the core."""
        kind = message["type"]
        if kind == "http.response.body":
            return self._abandon(response, message) if self.gone else self._body(response, message)
        if kind == "http.response.pathsend" or kind == _ZEROCOPY:
            return self._abandon(response, message) if self.gone else self._file(response, message)
        if kind == "http.response.start":
            response.start(message["status"], message.get("headers", []))  # raises: started
        # Trailers, early hints, http.response.debug and extensions this layer does not know:
        # forwarded in place, never dropped.
        return self.server_send(message)

    def _body(self, response: ResponseCompression, message: Message) -> Awaitable[None]:
        if response.phase is Phase.COMPRESSING and self.policy.thread_minimum_size is None:
            more = message.get("more_body", False)
            data = response.body(message.get("body", b""), more)
            return self.server_send(_piece(data, more=more))
        return self._encode(response, message)

    async def _encode(self, response: ResponseCompression, message: Message) -> None:
        body = message.get("body", b"")
        more = message.get("more_body", False)
        held = response.phase is Phase.HELD
        threshold = self.policy.thread_minimum_size
        if threshold is not None and len(body) >= threshold and response.phase is not Phase.DONE:
            # Compressing a large chunk inline would stall every request on this loop.
            data = await _in_thread(response.body, body, more)
        else:
            data = response.body(body, more)
        if held:
            await self._send_held(response.headers)
        if data is not body:
            message = _piece(data, more=more)
        await self.server_send(message)

    async def _file(self, response: ResponseCompression, message: Message) -> None:
        if message["type"] == "http.response.pathsend" and response.phase is Phase.COMPRESSING:
            # The start already promised an encoded body (a stream type or HEAD decided it
            # before any body): the file goes through the encoder, in blocks.
            with open(message["path"], "rb") as file:
                while block := await _in_thread(file.read, _FILE_BLOCK):
                    if self.gone:
                        response.end()
                        break
                    await self.server_send(_piece(response.body(block, True), more=True))
            await self.server_send(_piece(response.body(b"", False), more=False))
            return
        # The file goes out as it is, under the app's own start.
        response.end()
        if self.held is not None:
            await self._send_held(None)
        await self.server_send(message)

    async def _abandon(self, response: ResponseCompression, message: Message) -> None:
        """After the client left: the app's messages still reach the server (which drops
        them), emptied, so nothing is encoded for nobody."""
        response.end()
        if self.held is not None:
            await self._send_held(None)
        await self.server_send(_piece(b"", more=message.get("more_body", False)))

    def _send_held(self, headers: list[tuple[bytes, bytes]] | None) -> Awaitable[None]:
        start = self.held
        assert start is not None
        self.held = None
        self.started = True
        return self.server_send(start if headers is None else {**start, "headers": headers})

    def on_crash(self) -> None:
        if self.response is not None:
            self.response.end()
            self.response = self.held = None

    def on_end(self) -> None:
        if self.response is not None:
            self.response.end()


async def _nothing() -> None:
    return None


async def _in_thread(function: Callable[..., Any], *args: Any) -> Any:
    """Run ``function`` in a worker thread: through anyio when installed (asyncio or trio,
    waiting for the thread even when cancelled), else asyncio's default executor."""
    if _anyio_run_sync is not None:
        return await _anyio_run_sync(function, *args)
    return await asyncio.get_running_loop().run_in_executor(None, function, *args)


async def _decode_request(
    policy: CompressionPolicy, scope: Scope, receive: Receive, send: Send
) -> tuple[Scope, Receive] | None:
    """The scope and receive the app gets once an encoded request body is decoded, or None
    when this layer answered (413, 415, 400) or the client left."""
    decoding = policy.request(scope["headers"])
    if decoding is None:
        return scope, receive
    parts: list[bytes] = []
    more = True
    while more and not isinstance(decoding, Response):
        message = await receive()
        if message["type"] != "http.request":
            return None  # the client left while sending its body: nobody to answer
        more = message.get("more_body", False)
        out = decoding.feed(message.get("body", b""), more)
        if isinstance(out, Response):
            decoding = out
        else:
            parts.append(out)
    if isinstance(decoding, Response):
        await send_response(send, decoding)
        return None
    body = b"".join(parts)
    headers = decoded_headers(list(scope["headers"]), len(body))
    return {**scope, "headers": headers}, _replay(body, receive)


def _replay(body: bytes, receive: Receive) -> Receive:
    """A ``receive`` that hands the app the decoded body, then the client's later messages."""
    pending = [{"type": "http.request", "body": body, "more_body": False}]

    async def replay() -> Message:
        return pending.pop() if pending else await receive()

    return replay


def _piece(data: bytes, *, more: bool) -> Message:
    return {"type": "http.response.body", "body": data, "more_body": more}
