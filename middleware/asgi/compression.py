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

Options: see ``CompressionMiddleware`` and ``GZipMiddleware`` below (the same as the WSGI twins).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from ..core.compression import (
    DEFAULT_COMPRESSIBLE_TYPES,
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    CompressionPolicy,
    Phase,
    Rejection,
    ResponseCompressor,
    decoded_request_headers,
)
from ..core.headers import Headers, get_list
from ._scope import (
    ASGIApp,
    Message,
    Receive,
    Scope,
    Send,
    check_app,
    send_crash,
    store_failure,
)

_anyio_run_sync: Callable[..., Any] | None
try:
    from anyio.to_thread import run_sync as _anyio_run_sync
except ImportError:  # anyio comes with Starlette, not with every ASGI app
    _anyio_run_sync = None

__all__ = ["CompressionMiddleware", "GZipMiddleware"]

_HELD = Phase.HELD
_COMPRESSING = Phase.COMPRESSING
_DONE = Phase.DONE
_ZEROCOPY = "http.response.zerocopysend"
_FILE_BLOCK = 65_536


class _Compression:
    """What both classes do per request; they differ only in how the policy is built."""

    __slots__ = ("app", "policy")
    _middleware_protocol = "asgi"
    app: ASGIApp
    policy: CompressionPolicy

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        policy = self.policy
        if policy.reads_requests:
            if policy.filters_paths and policy.excludes(_path(scope)):
                await self.app(scope, receive, send)
                return
            if policy.decompress_requests:
                decoded = await _decode_request(policy, scope, receive, send)
                if decoded is None:
                    return
                scope, receive = decoded
        extensions = scope.get("extensions")
        if extensions and _ZEROCOPY in extensions:
            # An encoded response cannot be a zero-copy file: the app must not be offered it.
            if policy.negotiate(get_list(scope["headers"], b"accept-encoding")) is not None:
                scope = dict(scope)
                scope["extensions"] = {
                    key: value for key, value in extensions.items() if key != _ZEROCOPY
                }
        # _WAITING until the start; then _AS_IS (every later message is forwarded as it is), or
        # the _Encoding that owns the rest. A closure, not an object: a response left as it is
        # then costs one function and two calls.
        state: Any = _WAITING

        def sender(message: Message) -> Awaitable[None]:
            nonlocal state
            if state is _AS_IS:
                return send(message)
            kind = message["type"]
            encoding: _Encoding
            if kind == "http.response.start":
                if state is not _WAITING:
                    raise RuntimeError("The response has already started.")
                headers = message.get("headers", ())
                decided = policy.head(message["status"], headers, scope["headers"], False)
                if decided.__class__ is ResponseCompressor:
                    encoding = state = _Encoding(decided, send, policy.thread_minimum_size)
                    return encoding.start(message, scope["method"] == "HEAD")
                state = _AS_IS
                if decided is not headers:
                    message = dict(message)
                    message["headers"] = decided
                return send(message)
            if state is not _WAITING:
                encoding = state
                if kind == "http.response.body":
                    return encoding.body(message)
                if kind == "http.response.pathsend" or kind == _ZEROCOPY:
                    return encoding.file(message)
            elif kind == "http.response.body":
                raise RuntimeError("The app sent a body before the response start.")
            # Trailers, early hints, http.response.debug and extensions this layer does not
            # know: forwarded in place, never dropped.
            return send(message)

        async def watched_receive() -> Message:
            nonlocal state
            message = await receive()
            if message["type"] == "http.disconnect":
                # The client left: nothing more is encoded for nobody (SPEC, "A client
                # disconnect leaves no task or compressor behind").
                if state is _WAITING:
                    state = _AS_IS
                elif state.__class__ is _Encoding:
                    state.gone = True
            return message

        try:
            await self.app(scope, watched_receive, sender)
        except Exception as exc:
            # "Crashes keep their headers": nothing left this layer yet (the start may be
            # held), so the crash answer goes out here, through this layer afresh (its Vary
            # rule applies, as on WSGI), and outer layers add their headers. A store failure
            # is the SessionMiddleware's to answer (503), outside this layer.
            if store_failure(scope, exc):
                raise
            if state is _WAITING or (state.__class__ is _Encoding and state.holding):
                if state is not _WAITING:
                    state.release()
                state = _WAITING  # the crash answer is a response of its own
                await send_crash(sender)
            raise
        finally:
            if state.__class__ is _Encoding:
                state.release()


class CompressionMiddleware(_Compression):
    """Compress responses with the best coding the client accepts (zstd, br or gzip).

    ``minimum_size``: bodies known to be shorter are sent as they are. ``encodings``: the
    server's preference, used when the client weights codings equally (zstd needs the
    ``zstandard`` package and is skipped without it). ``gzip_level``, ``brotli_quality``,
    ``zstd_level``: codec settings. ``compressible_types``: the media types compressed
    (replaces the default list). ``exclude_paths``: paths never touched (a trailing ``/`` makes
    a prefix). ``decompress_requests``: decode request bodies sent with a Content-Encoding,
    up to ``max_request_size`` decoded bytes (413 past it or past 1024 gzip members or zstd
    frames, 415 unknown coding, 400 corrupt or more than two codings), in linear work.
    """

    __slots__ = ()

    def __init__(
        self,
        app: Any,
        *,
        minimum_size: int = 500,
        encodings: Iterable[str] = ("zstd", "br", "gzip"),
        gzip_level: int = 6,
        brotli_quality: int = 4,
        zstd_level: int = 3,
        compressible_types: Iterable[str] = DEFAULT_COMPRESSIBLE_TYPES,
        exclude_paths: Iterable[str] = (),
        decompress_requests: bool = False,
        max_request_size: int = 10_485_760,
    ) -> None:
        self.app = check_app(app, "CompressionMiddleware")
        self.policy = CompressionPolicy.from_options(
            minimum_size=minimum_size,
            encodings=encodings,
            gzip_level=gzip_level,
            brotli_quality=brotli_quality,
            zstd_level=zstd_level,
            compressible_types=compressible_types,
            exclude_paths=exclude_paths,
            decompress_requests=decompress_requests,
            max_request_size=max_request_size,
        )


class GZipMiddleware(_Compression):
    """Starlette's GZipMiddleware, option for option: gzip only, every media type but
    ``exclude_content_types`` (Starlette's list: images, audio, video, archives, gRPC and
    text/event-stream). Chunks of ``thread_minimum_size`` bytes or more are compressed in a
    worker thread. Negotiation, skip rules and headers are CompressionMiddleware's."""

    __slots__ = ()

    def __init__(
        self,
        app: Any,
        minimum_size: int = 500,
        compresslevel: int = 9,
        thread_minimum_size: int = 131_072,
        *,
        exclude_content_types: Iterable[str] = DEFAULT_EXCLUDED_CONTENT_TYPES,
    ) -> None:
        self.app = check_app(app, "GZipMiddleware")
        self.policy = CompressionPolicy.for_gzip(
            minimum_size=minimum_size,
            compresslevel=compresslevel,
            thread_minimum_size=thread_minimum_size,
            exclude_content_types=exclude_content_types,
        )


# The states of a response besides _Encoding (typed Any: the state variable holds either).
_WAITING: Any = object()  # no response start yet
_AS_IS: Any = object()  # the start went out; every later message passes as it is


class _Encoding:
    """A response whose body goes through a ResponseCompressor: its start is held until the
    first body message when the core says so, then each body message leaves encoded."""

    __slots__ = ("gone", "held", "response", "send", "thread_minimum_size")

    def __init__(
        self, response: ResponseCompressor, send: Send, thread_minimum_size: int | None
    ) -> None:
        self.response = response
        self.send = send
        self.thread_minimum_size = thread_minimum_size
        self.held: Message | None = None  # the app's start message, while the core holds it
        # Set when the app's receive() says the client left. The encoder is released by the
        # next message, not by receive(): another task may be encoding in a worker thread.
        self.gone = False

    @property
    def holding(self) -> bool:
        """Whether nothing has left yet (the start is held)."""
        return self.response.phase is _HELD

    def release(self) -> None:
        self.response.release()

    def start(self, message: Message, head: bool) -> Awaitable[None]:
        decided = self.response.start(head, message.get("trailers", False))
        if decided is None:
            self.held = message
            return _nothing()
        message = dict(message)
        message["headers"] = decided
        return self.send(message)

    def body(self, message: Message) -> Awaitable[None]:
        if self.gone:
            return self._abandoned(message)
        response = self.response
        if response.phase is _COMPRESSING and self.thread_minimum_size is None:
            more = message.get("more_body", False)
            data = response.body(message.get("body", b""), more)
            return self.send({"type": "http.response.body", "body": data, "more_body": more})
        return self._body(message)

    async def _body(self, message: Message) -> None:
        response = self.response
        phase = response.phase
        body = message.get("body", b"")
        more = message.get("more_body", False)
        threshold = self.thread_minimum_size
        if threshold is not None and len(body) >= threshold and phase is not _DONE:
            # Compressing a large chunk inline would stall every request on this loop.
            data = await _in_thread(response.body, body, more)
        else:
            data = response.body(body, more)
        if phase is _HELD:
            await self._send_held(response.headers)
        if data is not body:
            message = {"type": "http.response.body", "body": data, "more_body": more}
        await self.send(message)

    async def _abandoned(self, message: Message) -> None:
        """After the client left: the app's messages still reach the server (which drops
        them), emptied, so nothing is encoded for nobody."""
        self.response.release()
        if self.held is not None:
            await self._send_held(None)
        more = message.get("more_body", False)
        await self.send({"type": "http.response.body", "body": b"", "more_body": more})

    async def file(self, message: Message) -> None:
        if self.gone:
            await self._abandoned(message)
            return
        response = self.response
        if message["type"] == "http.response.pathsend" and response.phase is _COMPRESSING:
            # The start already promised an encoded body (a stream type or HEAD decided it
            # before any body): the file goes through the encoder.
            await self._send_file(message["path"])
            return
        # The file goes out as it is, under the app's own start.
        held = response.phase is _HELD
        response.release()
        if held:
            await self._send_held(None)
        await self.send(message)

    async def _send_held(self, headers: Headers | None) -> None:
        start = self.held
        assert start is not None
        self.held = None
        if headers is not None:
            start = dict(start)
            start["headers"] = headers
        await self.send(start)

    async def _send_file(self, path: str) -> None:
        response = self.response
        with open(path, "rb") as file:
            while block := await _in_thread(file.read, _FILE_BLOCK):
                if self.gone:
                    response.release()
                    break
                data = response.body(block, True)
                await self.send({"type": "http.response.body", "body": data, "more_body": True})
        tail = response.body(b"", False)
        await self.send({"type": "http.response.body", "body": tail, "more_body": False})


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
    request_headers = scope["headers"]
    decoding = policy.request(request_headers)
    if decoding is None:
        return scope, receive
    if isinstance(decoding, Rejection):
        await _reject(send, decoding)
        return None
    parts: list[bytes] = []
    while True:
        message = await receive()
        if message["type"] != "http.request":
            return None  # the client left while sending its body: nobody to answer
        out = decoding.feed(message.get("body", b""))
        if isinstance(out, Rejection):
            await _reject(send, out)
            return None
        parts.append(out)
        if not message.get("more_body", False):
            break
    end = decoding.end()
    if isinstance(end, Rejection):
        await _reject(send, end)
        return None
    body = b"".join(parts)
    scope = dict(scope)
    scope["headers"] = decoded_request_headers(list(request_headers), len(body))
    return scope, _Replay(body, receive)


class _Replay:
    """A ``receive`` that hands the app the decoded body, then the client's later messages."""

    __slots__ = ("_body", "_receive")

    def __init__(self, body: bytes, receive: Receive) -> None:
        self._body: bytes | None = body
        self._receive = receive

    async def __call__(self) -> Message:
        body = self._body
        if body is None:
            return await self._receive()
        self._body = None
        return {"type": "http.request", "body": body, "more_body": False}


async def _reject(send: Send, rejection: Rejection) -> None:
    start = {
        "type": "http.response.start",
        "status": rejection.status,
        # A copy: outer middleware may edit the list it is sent (Starlette's do).
        "headers": list(rejection.headers),
    }
    await send(start)
    await send({"type": "http.response.body", "body": rejection.body, "more_body": False})


def _path(scope: Scope) -> str:
    path: str = scope["path"]
    root: str = scope.get("root_path", "")
    if root and path.startswith(root):
        return path[len(root) :]
    return path
