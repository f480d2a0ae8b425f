"""Response compression (zstd, br, gzip) and request decompression for WSGI apps.

    from middleware.wsgi import CompressionMiddleware, GZipMiddleware

    app.wsgi_app = CompressionMiddleware(app.wsgi_app, minimum_size=500)      # Flask
    application = GZipMiddleware(get_wsgi_application(), compresslevel=6)    # Django

The decisions are ``middleware.core.compression``'s; this module only moves WSGI calls. The
server's ``start_response`` is called once the answer is known: at once when the headers
decide it, else with the first body chunk (a body returned as a list is whole, so it gets an
exact Content-Length). Every chunk the app yields or passes to ``write()`` leaves compressed
and flushed; a ``wsgi.file_wrapper`` body is read in its blocks. A response left as it is goes
back to the server untouched (the app's own iterable, so ``wsgi.file_wrapper`` keeps sendfile).
The inner iterable's ``close()`` is always called.

Options: see ``CompressionMiddleware`` and ``GZipMiddleware`` below (the same as the ASGI twins).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator
from typing import Any

from ..core.compression import (
    DEFAULT_COMPRESSIBLE_TYPES,
    DEFAULT_EXCLUDED_CONTENT_TYPES,
    CompressionPolicy,
    Rejection,
    ResponseCompressor,
)
from ..core.headers import Headers
from ..core.outcome import Outcome
from ._environ import (
    Environ,
    Exchange,
    ExcInfo,
    NativeHeaders,
    StartResponse,
    Write,
    WSGIApp,
    check_app,
    native,
    status_code,
    status_line,
)

__all__ = ["CompressionMiddleware", "GZipMiddleware"]

_READ_BLOCK = 65_536


class _Compression:
    """What both classes do per request; they differ only in how the policy is built."""

    __slots__ = ("app", "policy")
    _middleware_protocol = "wsgi"
    app: WSGIApp
    policy: CompressionPolicy

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        policy = self.policy
        if policy.reads_requests:
            if policy.filters_paths and policy.excludes(_path(environ)):
                return self.app(environ, start_response)
            if policy.decompress_requests and "HTTP_CONTENT_ENCODING" in environ:
                rejection = _decode_request(policy, environ)
                if rejection is not None:
                    start_response(status_line(rejection.status), native(rejection.headers))
                    return [rejection.body]
        accept = _accept_headers(environ.get("HTTP_ACCEPT_ENCODING"))
        # _WAITING until the app starts its response; _AS_IS once the server has the headers
        # and the body needs no encoding; _HANDED_OFF once the app's own iterable went back to
        # the server; or the _Compressing exchange that owns the rest. A response left as it
        # is (most are) then costs one closure and no exchange object.
        state: Any = _WAITING

        def starting(status: str, headers: NativeHeaders, exc_info: ExcInfo | None = None) -> Write:
            nonlocal state
            if state.__class__ is _Compressing:
                exchange: _Compressing = state
                return exchange(status, headers, exc_info)
            decided = policy.head(status_code(status), headers, accept, True)
            if decided.__class__ is not ResponseCompressor:
                if state is _WAITING:
                    state = _AS_IS
                return start_response(status, decided, exc_info)  # type: ignore[arg-type]
            if state is _HANDED_OFF:
                # A replacement (exc_info) for a body already handed to the server as it is:
                # that body cannot be encoded any more, so neither are these headers.
                return start_response(status, headers, exc_info)
            exchange = state = _exchange(environ, start_response, policy, accept, state is _AS_IS)
            return exchange.begin(status, decided, exc_info)

        try:
            iterable = self.app(environ, starting)
        except Exception:
            if state.__class__ is not _Compressing:
                state = _exchange(environ, start_response, policy, accept, state is _AS_IS)
            state._answer_crash()
            return state  # type: ignore[no-any-return]
        if state is _AS_IS:
            state = _HANDED_OFF
            return iterable
        if state is _WAITING:
            # The app starts its response only once iterated (a generator): the exchange
            # decides then, with the first chunk.
            state = _exchange(environ, start_response, policy, accept, False)
        state._iterable = iterable
        return state  # type: ignore[no-any-return]


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
    text/event-stream). ``thread_minimum_size`` is accepted for the same signature; WSGI
    servers already compress on their worker threads. Negotiation, skip rules and headers are
    CompressionMiddleware's."""

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


class _Compressing(Exchange):
    """The app's ``start_response``, ``write`` and the response iterable for one request."""

    # Set by _Compression.__call__: one constructor call per request.
    __slots__ = (
        "forwarded",
        "held",
        "policy",
        "request_headers",
        "response",
        "server_write",
    )
    policy: CompressionPolicy
    request_headers: Headers
    response: ResponseCompressor | None  # None: the body goes out as it is
    held: str | None  # the status line, while the core holds the head
    forwarded: bool  # the server's start_response has been called
    server_write: Write | None

    def __call__(
        self, status: str, headers: NativeHeaders, exc_info: ExcInfo | None = None
    ) -> Write:
        decided = self.policy.head(status_code(status), headers, self.request_headers, True)
        return self.begin(status, decided, exc_info)

    def begin(
        self,
        status: str,
        decided: NativeHeaders | ResponseCompressor,
        exc_info: ExcInfo | None = None,
    ) -> Write:
        """Act on the core's decision for a ``start_response`` call."""
        self.status = status
        if exc_info is not None:
            # A replacement (an error page) has a decision of its own.
            if self.response is not None:
                self.response.release()
                self.response = None
            self.held = None
        if not isinstance(decided, ResponseCompressor):
            self.forwarded = True
            self.server_write = self._start_response(status, decided, exc_info)
            return self._write
        response = self.response = decided
        first = response.start(self.environ["REQUEST_METHOD"] == "HEAD")
        if first is None:
            if not self.forwarded:
                self.held = status
                return self._write
            # PEP 3333: a second call must come with exc_info and goes to the server at once
            # (it raises if the first headers already left), so there is no first chunk to
            # wait for: the replacement is sent as a stream.
            response.body(b"", True)
            first = response.headers
            assert first is not None
        self.forwarded = True
        self.server_write = self._start_response(status, native(first), exc_info)
        return self._write

    def _write(self, data: bytes) -> None:
        response = self.response
        out = data if response is None else response.body(data, True)
        if self.held is not None:
            self._release_start()
        if out:
            self.bytes_sent += len(out)
            assert self.server_write is not None
            self.server_write(out)

    def _release_start(self) -> None:
        status, response = self.held, self.response
        assert status is not None and response is not None and response.headers is not None
        self.held = None
        self.forwarded = True
        self.server_write = self._start_response(status, native(response.headers))

    def _chunks(self) -> Iterator[bytes]:
        try:
            for out in self._encoded():
                self.bytes_sent += len(out)
                yield out
        except Exception:
            if self.bytes_sent:
                self.outcome = Outcome.ERROR
                raise
            # "Crashes keep their headers": nothing has left, so a plain 500 goes out instead.
            self._close_inner()
            self._answer_crash()
            yield from self._encoded()
            return
        if self.outcome is None:
            self.outcome = Outcome.COMPLETED

    def _encoded(self) -> Iterator[bytes]:
        iterable = self._iterable or ()
        if self.held is not None and type(iterable) in (list, tuple):
            # A list is the whole body: one piece, so it can get an exact Content-Length.
            assert self.response is not None
            out = self.response.body(b"".join(iterable), False)
            self._release_start()
            yield out
            return
        # The app may call start_response only once iterated (a generator): the decision,
        # and so self.response, can come with the first chunk.
        for chunk in iterable:
            response = self.response
            if response is None:
                if not self.forwarded:
                    # Nothing has decided the headers: answered as a crash, as on ASGI.
                    raise RuntimeError("The app sent a body before the response start.")
                yield chunk
                continue
            out = response.body(chunk, True)
            if self.held is not None:
                self._release_start()
            yield out
        response = self.response
        if response is not None:
            out = response.body(b"", False)
            if self.held is not None:
                self._release_start()
            if out:
                yield out

    def on_close(self) -> None:
        if self.response is not None:
            self.response.release()


# The states of a response besides _Compressing (typed Any: the state variable holds either).
_WAITING: Any = object()
_AS_IS: Any = object()
_HANDED_OFF: Any = object()


def _exchange(
    environ: Environ,
    start_response: StartResponse,
    policy: CompressionPolicy,
    accept: Headers,
    forwarded: bool,
) -> _Compressing:
    """The exchange that takes a response over; ``forwarded``: the server has had a start."""
    exchange = _Compressing(environ, start_response)
    exchange.policy = policy
    exchange.request_headers = accept
    exchange.response = exchange.held = exchange.server_write = None
    exchange.forwarded = forwarded
    return exchange


# The request's Accept-Encoding as the one-field header list the core reads, shared by every
# request that sends the same value (browsers send a handful): the core never changes it, and a
# response that is left alone then allocates nothing for it. Bounded against invented values.
_NO_ACCEPT: Headers = []
_ACCEPT_HEADERS: dict[str, Headers] = {}
_ACCEPT_HEADERS_ENTRIES = 256


def _accept_headers(accept: str | None) -> Headers:
    if accept is None:
        return _NO_ACCEPT
    headers = _ACCEPT_HEADERS.get(accept)
    if headers is None:
        headers = [(b"accept-encoding", accept.encode("latin-1"))]
        if len(_ACCEPT_HEADERS) < _ACCEPT_HEADERS_ENTRIES:
            _ACCEPT_HEADERS[accept] = headers
    return headers


def _decode_request(policy: CompressionPolicy, environ: Environ) -> Rejection | None:
    """Decode the request body into ``environ`` (a fresh wsgi.input, the decoded length, no
    Content-Encoding), or the Rejection to answer instead."""
    encoding: str = environ["HTTP_CONTENT_ENCODING"]
    headers: Headers = [(b"content-encoding", encoding.encode("latin-1"))]
    length = environ.get("CONTENT_LENGTH") or ""
    if length:
        headers.append((b"content-length", length.encode("latin-1")))
    decoding = policy.request(headers)
    if decoding is None or isinstance(decoding, Rejection):
        return decoding
    stream = environ["wsgi.input"]
    # PEP 3333: a server need not signal the end of input, so only CONTENT_LENGTH bytes are
    # read, unless it promises an end with wsgi.input_terminated.
    if length.isdigit():
        remaining = int(length)
    else:
        remaining = -1 if environ.get("wsgi.input_terminated") else 0
    parts: list[bytes] = []
    while remaining:
        block = stream.read(_READ_BLOCK if remaining < 0 else min(remaining, _READ_BLOCK))
        if not block:
            break
        if remaining > 0:
            remaining -= len(block)
        out = decoding.feed(block)
        if isinstance(out, Rejection):
            return out
        parts.append(out)
    end = decoding.end()
    if isinstance(end, Rejection):
        return end
    body = b"".join(parts)
    del environ["HTTP_CONTENT_ENCODING"]
    environ["CONTENT_LENGTH"] = str(len(body))
    environ["wsgi.input"] = io.BytesIO(body)
    return None


def _path(environ: Environ) -> str:
    # PEP 3333 hands PATH_INFO over as latin-1-decoded bytes; ASGI's path is UTF-8 decoded.
    path: str = environ.get("PATH_INFO", "")
    if path.isascii():
        return path
    return path.encode("latin-1").decode("utf-8", "replace")
