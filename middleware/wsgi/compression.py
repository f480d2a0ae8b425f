"""Response compression (zstd, br, gzip) and request decompression for WSGI apps.

    from middleware.wsgi import CompressionMiddleware, GZipMiddleware

    app.wsgi_app = CompressionMiddleware(app.wsgi_app, minimum_size=500)      # Flask
    application = GZipMiddleware(get_wsgi_application(), compresslevel=6)    # Django

The decisions are ``middleware.core.compression``'s; this module only moves WSGI calls. The
server's ``start_response`` is called once the answer is known: at once when the headers
decide it, else with the first body chunk. A response left as it is goes back to the server
as the app's own iterable; the inner iterable's ``close()`` is always called. Lists, files and
``write()``: the docs (Compression, "WSGI").

Options: see ``CompressionLayer`` and ``GZipLayer`` (the same on both protocols).
"""

from __future__ import annotations

import io
from collections.abc import Iterable, Iterator

from .._layers import CompressionLayer, GZipLayer
from ..core.compression import (
    EDITED_FIELDS,
    VARY_FIELD,
    CompressionPolicy,
    Head,
    Phase,
    ResponseCompression,
    read_head,
)
from ..core.headers import Headers
from ..core.responses import Response
from ._environ import (
    Exchange,
    HeadFields,
    WSGILayer,
    added,
    app_path,
    bytes_head,
    file_blocks,
    native,
    request_body,
    spelled_as,
    status_code,
    status_line,
)
from ._types import Environ, ExcInfo, NativeHeaders, StartResponse, Write

__all__ = ["CompressionMiddleware", "GZipMiddleware"]

_READ_BLOCK = 65_536


class CompressionMiddleware(WSGILayer, CompressionLayer):
    """Compress a WSGI app's responses with the best coding the client accepts."""

    def __call__(self, environ: Environ, start_response: StartResponse) -> Iterable[bytes]:
        policy = self.policy
        if policy.reads_requests:
            if policy.filters_paths and policy.excludes(app_path(environ)):
                return self.app(environ, start_response)  # type: ignore[no-any-return]
            if policy.decompress_requests and "HTTP_CONTENT_ENCODING" in environ:
                rejection = _decode_request(policy, environ)
                if rejection is not None:
                    start_response(status_line(rejection.status), native(list(rejection.headers)))
                    return [rejection.body]
        exchange = _Compressing(environ, start_response)
        exchange.policy = policy
        body = exchange.run(self.app)
        return exchange.untouched() or body


class GZipMiddleware(WSGILayer, GZipLayer):
    """Starlette's GZipMiddleware for a WSGI app (``thread_minimum_size`` is accepted for the
    same signature: WSGI servers already run the app on worker threads)."""

    __call__ = CompressionMiddleware.__call__


class _Compressing(Exchange):
    """The app's ``start_response`` and ``write``, and the response iterable, for one request.

    ``status`` is the status line the server has (None until then), ``held`` the one the core
    holds until the first body piece, and ``response`` the core's per-response object, made
    only when the head may be encoded: a response left as it is needs none."""

    # Set by the middleware right after construction; the rest are defaults until a
    # response sets them (as the plumbing's fields are).
    policy: CompressionPolicy
    response: ResponseCompression | None = None
    app_head: tuple[NativeHeaders, Headers]  # the app's head, and as the core was given it
    held: str | None = None
    server_write: Write | None = None

    def __call__(
        self, status: str, headers: NativeHeaders, exc_info: ExcInfo | None = None
    ) -> Write:
        if self.closed:
            # The app's own body went back to the server as it is (``untouched``): a
            # replacement's body cannot be encoded any more, so neither are its headers.
            return self._start_response(status, headers, exc_info)
        if self.response is not None and exc_info is not None:
            # A replacement (an error page) has a decision of its own.
            self.response.end()
            self.response = self.held = None
        code = status_code(status)
        read = None
        if self.response is None:
            sent, read = _left_as_is(self.policy, code, headers)
            if sent is not None:
                return self._forward(status, sent, exc_info)
            self.response = self._begin()
        self.app_head = (headers, given := bytes_head(headers))
        started = self.response.start(code, given, hold=self.status is None, read=read)
        if started is Phase.HELD:
            self.held = status
            return self._write
        if self.response.phase is Phase.IDENTITY:
            self.response = None
        return self._forward(status, spelled_as(headers, given, started), exc_info)

    def _forward(self, status: str, headers: NativeHeaders, exc_info: ExcInfo | None) -> Write:
        self.status = status
        self.server_write = self._start_response(status, headers, exc_info)
        return self._write

    def _begin(self) -> ResponseCompression:
        environ = self.environ
        accept = environ.get("HTTP_ACCEPT_ENCODING")
        request_headers = [] if accept is None else [(b"accept-encoding", accept.encode("latin-1"))]
        return self.policy.begin(request_headers, head_request=environ["REQUEST_METHOD"] == "HEAD")

    def _write(self, data: bytes) -> None:
        out = self._send(data, more=True)
        if out and self.server_write is not None:
            self.bytes_sent += len(out)
            self.server_write(out)

    def _send(self, data: bytes, *, more: bool) -> bytes:
        """One body piece through the core; a held head leaves before its bytes."""
        response = self.response
        if response is None:
            if self.status is None:
                raise RuntimeError("The app sent a body before the response start.")
            return data
        out = response.body(data, more)
        if self.held is not None and response.headers is not None:
            self.status, self.held = self.held, None
            head = spelled_as(*self.app_head, response.headers)
            self.server_write = self._start_response(self.status, head)
        return out

    def on_body(self, chunks: Iterable[bytes]) -> Iterable[bytes]:
        if self.response is None and self.status is not None:
            return chunks  # left as it is
        return self._encoded(chunks)

    def _encoded(self, chunks: Iterable[bytes]) -> Iterator[bytes]:
        if self.held is not None and type(chunks) in (list, tuple):
            # A list is the whole body: one piece, so it can get an exact Content-Length.
            yield self._send(b"".join(chunks), more=False)
            return
        for chunk in file_blocks(chunks, _READ_BLOCK):
            yield self._send(chunk, more=True)
        tail = self._send(b"", more=False)
        if tail:
            yield tail

    def untouched(self) -> Iterable[bytes] | None:
        """The app's own iterable, when its head left as it was decided and nothing is left to
        do: this exchange is then done (it has nothing to close)."""
        body = self._iterable
        if body is None or self.outcome is not None:
            return None  # a crash answer, or nothing to hand back
        if self.response is not None or self.status is None:
            return None  # a body to encode, or a start still to come
        self._iterable = None
        self.closed = True
        return body

    def on_close(self) -> None:
        if self.response is not None:
            self.response.end()


# The fields the compression rules read or change; the rest of a head goes out untouched.
_FIELDS = HeadFields(EDITED_FIELDS)


def _left_as_is(
    policy: CompressionPolicy, code: int, headers: NativeHeaders
) -> tuple[NativeHeaders | None, Head]:
    """``policy.left_as_is`` for a native head: the head to send (None when the body may be
    encoded), and what the rules read of it (for ``start``, then).

    Only the fields the rules read are converted (a Django head of seven fields costs 0.8 µs
    whole, its three such fields 0.35). Why the first branch: most heads hold no such field
    but Content-Type and Content-Length, and taking their two values alone, with the Vary the
    rule appends prebuilt, costs 1 µs a response less (docs/benchmarks.md)."""
    read = _type_and_length(headers)
    if read is not None:
        head = policy.left_as_is(code, _NO_FIELDS, read)
        if head is None:
            return None, read
        if head is _NO_FIELDS:
            return headers, read
        # The rule appended to a head it read no field of: Vary, prebuilt.
        return [*headers, *(_VARY if head == _VARIED else added(head))], read
    fields = _FIELDS.read(headers)
    read = read_head(fields)
    assert read is not None  # the names are lower-case
    head = policy.left_as_is(code, fields, read)
    if head is None:
        return None, read
    return _FIELDS.edit(headers, fields, head, policy.left_as_is, code), read


def _type_and_length(headers: NativeHeaders) -> Head | None:
    """``read_head`` of a head whose only fields of the rules are one Content-Type and one
    Content-Length, either optional; None for any other head."""
    content_type = length = None
    seen = _FIELDS.seen
    for name, value in headers:
        key = seen.get(name)
        if key is None:
            key = _FIELDS.key(name)
        if not key:
            continue
        if key == b"content-type" and content_type is None:
            content_type = value.encode("latin-1")
        elif key == b"content-length" and length is None:
            length = value.encode("latin-1")
        else:
            return None
    return content_type, length, None, False, False


_NO_FIELDS: Headers = []
_VARIED = [VARY_FIELD]
_VARY = added(_VARIED)


def _decode_request(policy: CompressionPolicy, environ: Environ) -> Response | None:
    """Decode the request body into ``environ`` (a fresh wsgi.input, the decoded length, no
    Content-Encoding), or the answer to send instead."""
    length: str = environ.get("CONTENT_LENGTH") or ""
    headers = [(b"content-encoding", environ["HTTP_CONTENT_ENCODING"].encode("latin-1"))]
    if length:
        headers.append((b"content-length", length.encode("latin-1")))
    decoding = policy.request(headers)
    if decoding is None:
        return None
    blocks = request_body(environ, _READ_BLOCK)
    while not decoding.done:  # a refused coding is done before any read
        decoding.take(*next(blocks))
    if decoding.rejection is not None:
        return decoding.rejection
    body = decoding.body()
    del environ["HTTP_CONTENT_ENCODING"]
    environ["CONTENT_LENGTH"] = str(len(body))
    environ["wsgi.input"] = io.BytesIO(body)
    return None
