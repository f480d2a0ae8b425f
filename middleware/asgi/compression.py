"""Response compression (zstd, br, gzip) and request decompression for ASGI apps.

    from middleware.asgi import CompressionMiddleware, GZipMiddleware

    app.add_middleware(CompressionMiddleware, minimum_size=500)
    app.add_middleware(GZipMiddleware, minimum_size=1000, compresslevel=6)   # Starlette's

The decisions are ``middleware.core.compression``'s; this module only moves ASGI messages.
The start is held until the first body message when the answer depends on it; each body
message leaves compressed and flushed. Files, zero-copy sends, threads and disconnects: the
docs (Compression, "ASGI").

Options: see ``CompressionLayer`` and ``GZipLayer`` (the same on both protocols).
"""

from __future__ import annotations

from collections.abc import Awaitable

from .._layers import CompressionLayer, GZipLayer
from ..core.compression import CompressionPolicy, Phase, ResponseCompression, read_head
from ..core.compression import decoded_request_headers as decoded_headers
from ..core.headers import get_list
from ._scope import (
    ASGILayer,
    Exchange,
    app_path,
    body_message,
    in_thread,
    replay,
    send_response,
)
from ._types import ASGIApp, Message, Receive, Scope, Send

__all__ = ["CompressionMiddleware", "GZipMiddleware"]

_ZEROCOPY = "http.response.zerocopysend"
_PATHSEND = "http.response.pathsend"
_BODIES = frozenset({"http.response.body", _PATHSEND, _ZEROCOPY})
_FILE_BLOCK = 65_536


class CompressionMiddleware(ASGILayer, CompressionLayer):
    """Compress an ASGI app's responses with the best coding the client accepts."""

    def http(self, scope: Scope, receive: Receive, send: Send) -> Awaitable[None] | Exchange:
        if self.policy.reads_requests:
            return _screened(self.app, self.policy, scope, receive, send)
        return _Compressing(scope, receive, send, self.policy)


class GZipMiddleware(ASGILayer, GZipLayer):
    """Starlette's GZipMiddleware for an ASGI app: large chunks are gzipped in a thread."""

    http = CompressionMiddleware.http


async def _screened(
    app: ASGIApp, policy: CompressionPolicy, scope: Scope, receive: Receive, send: Send
) -> None:
    """A request this layer looks at first: an excluded path, or an encoded body, decoded
    before the app runs (which then gets it in one message) or answered (413, 415, 400)."""
    if policy.filters_paths and policy.excludes(app_path(scope)):
        await app(scope, receive, send)
        return
    decoding = policy.request(scope["headers"])
    if decoding is not None:
        while not decoding.done:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client left while sending its body: nobody to answer
            decoding.take(message.get("body", b""), message.get("more_body", False))
        if decoding.rejection is not None:
            await send_response(send, decoding.rejection)
            return
        body = decoding.body()
        scope = {**scope, "headers": decoded_headers(list(scope["headers"]), len(body))}
        receive = replay(body, receive)
    await _Compressing(scope, receive, send, policy).run(app)


def _offered(policy: CompressionPolicy, scope: Scope) -> Scope:
    """The scope the app gets when the server offers ``http.response.zerocopysend``: an encoded
    response cannot be a zero-copy file, so when the client accepts a coding it is hidden, in a
    copy."""
    if policy.negotiate(get_list(scope["headers"], b"accept-encoding")) is None:
        return scope
    extensions = {k: v for k, v in scope["extensions"].items() if k != _ZEROCOPY}
    return {**scope, "extensions": extensions}


class _Compressing(Exchange):
    """One response. ``response`` is the core's per-response object, made only for a head that
    may be encoded (a response left as it is needs none); ``held`` is the app's start while the
    core holds it; ``gone`` says the app's ``receive()`` returned ``http.disconnect``."""

    __slots__ = ("gone", "held", "policy", "response", "server_receive")

    def __init__(self, scope: Scope, receive: Receive, send: Send, policy: CompressionPolicy):
        # Exchange's fields set here, not through super().__init__: a Python call less per
        # request (with timing's and logging's, 2 % of the five-layer stack's instructions).
        if _ZEROCOPY in (scope.get("extensions") or ()):
            scope = _offered(policy, scope)
        self.scope, self.receive = scope, self._watched_receive
        self.server_send, self.started = send, False
        self.server_receive = receive
        self.policy = policy
        self.response: ResponseCompression | None = None
        self.held: Message | None = None
        self.gone = False

    async def _watched_receive(self) -> Message:
        message = await self.server_receive()
        if message["type"] == "http.disconnect":
            # Nothing more is encoded for nobody. The encoder is released by the next message,
            # not here: another task may be encoding in a worker thread.
            self.gone = True
        return message

    def send(self, message: Message) -> Awaitable[None]:
        response = self.response
        if response is None:
            return self.server_send(message) if self.started else self._start(message)
        kind = message["type"]
        if kind == "http.response.body" and not self.gone:
            if self.held is None and self.policy.thread_minimum_size is None:
                more = message.get("more_body", False)
                data = response.body(message.get("body", b""), more)
                return self.server_send({"type": kind, "body": data, "more_body": more})
            return self._encode(response, message)
        if kind in _BODIES:
            return self._unencoded(response, message)
        if kind == "http.response.start":
            response.start(message["status"], message.get("headers") or [])  # raises
        # Trailers, early hints, http.response.debug and extensions this layer does not know:
        # forwarded in place, never dropped.
        return self.server_send(message)

    def _start(self, message: Message) -> Awaitable[None]:
        """A message before the response start left this layer: the start is decided."""
        kind = message["type"]
        if kind == "http.response.body":
            raise RuntimeError("The app sent a body before the response start.")
        if kind != "http.response.start":
            return self.server_send(message)
        status, headers = message["status"], message.get("headers") or []
        # Once the client left, nothing is decided for nobody: the start passes as it is.
        read = read_head(headers)  # None for capitalised names: ``start`` lower-cases them
        head = headers if self.gone else self.policy.left_as_is(status, headers, read)
        if head is None:
            response = self.policy.begin(
                self.scope["headers"], head_request=self.scope["method"] == "HEAD"
            )
            head = response.start(
                status, headers, trailers=message.get("trailers", False), read=read
            )
            if head is Phase.HELD:
                self.response, self.held = response, message
                return _nothing()
            if response.phase is not Phase.IDENTITY:
                self.response = response
        self.started = True
        if head is not headers:
            message = dict(message)  # a copy: the app may reuse its message
            message["headers"] = head
        return self.server_send(message)

    async def _encode(self, response: ResponseCompression, message: Message) -> None:
        body, more = message.get("body", b""), message.get("more_body", False)
        threshold = self.policy.thread_minimum_size
        if threshold is not None and len(body) >= threshold and response.phase is not Phase.DONE:
            # Compressing a large chunk inline would stall every request on this loop.
            data = await in_thread(response.body, body, more)
        else:
            data = response.body(body, more)
        if self.held is not None:
            held, self.held, self.started = self.held, None, True
            await self.server_send({**held, "headers": response.headers})
        await self.server_send(message if data is body else body_message(data, more=more))

    async def _unencoded(self, response: ResponseCompression, message: Message) -> None:
        """A file (pathsend, zerocopysend), or any body once the client left."""
        if self.gone or message["type"] != _PATHSEND or response.phase is not Phase.COMPRESSING:
            # Not encoded after all: a file goes out as it is, under the app's own start, and
            # once the client left every body is emptied (the server drops it anyway).
            response.end()
            if self.held is not None:
                held, self.held, self.started = self.held, None, True
                await self.server_send(held)
            await self.server_send(
                body_message(b"", more=message.get("more_body", False)) if self.gone else message
            )
            return
        # The start already promised an encoded body (a stream type decided it before any body;
        # a HEAD's blocks come back empty): the file goes through the encoder, in blocks.
        with open(message["path"], "rb") as file:
            while block := await in_thread(file.read, _FILE_BLOCK):
                if self.gone:
                    response.end()  # the client left: the rest is not encoded
                    break
                await self.server_send(body_message(response.body(block, more=True), more=True))
        await self.server_send(body_message(response.body(b"", more=False), more=False))

    def on_crash(self) -> None:
        if self.response is not None:  # the crash answer is a response of its own
            self.response.end()
            self.response = self.held = None

    def on_end(self) -> None:
        if self.response is not None:
            self.response.end()
        # Breaks the cycle self.receive -> self._watched_receive -> self, so the exchange (and
        # every layer's exchange it holds) is freed at once, not by the cycle collector
        # (measured: 8 % of the five-layer stack's instructions per request).
        self.receive = self.server_receive


async def _nothing() -> None:
    return None
