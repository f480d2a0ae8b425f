"""Content codings: incremental encoders for responses, bounded decoders for requests.

The compression core (``middleware.core.compression``) negotiates *which* coding to use; this
module does the byte work. Encoders flush after every chunk, so whatever a client has received
decodes at once (server-sent events and NDJSON stay live); decoders never return more than the
caller's budget, so a small compressed request cannot expand into memory.

    >>> codec = GzipCodec(level=6)
    >>> encoder = codec.encoder(size_hint=None)
    >>> wire = encoder.compress(b"data: hello\\n\\n") + encoder.finish()
    >>> decoder = decoder_for(b"gzip")
    >>> decoder.feed(wire, limit=1024)
    b'data: hello\\n\\n'

Codings: ``gzip`` (level 0-9), ``br`` (brotli, quality 0-11) and ``zstd`` (the optional
``zstandard`` package, frames within RFC 9659's 8 MB window). Request decoders also accept
``x-gzip`` and ``deflate``.

What pays, kept on purpose (each was measured; this is the one place that says so):

- zlib-ng encodes gzip: the same deflate streams as the stdlib's zlib (used where zlib-ng has
  no wheel) in about half the time, and a stream set up in ~3 µs where zlib takes ~55 µs.
- zstd compression contexts are pooled (``ZstdCodec.acquire``/``release``): building one costs
  about 10 µs and a fresh allocation of its tables, off the per-response path.
- brotli's window is sized to the body when its length is known (``brotli_window``): a larger
  window compresses no better but costs its full size in memory, for every response.
- Decoders are bounded in memory and in work (issue 16): input goes in in 64 KiB slices
  (``DECODE_SLICE``), a body may hold at most ``MAX_MEMBERS`` gzip members or zstd frames, and
  no decoder returns more than its budget, so a body of N bytes costs O(N) work.
- ``CompressionPolicy`` is built once per middleware: codecs, media-type patterns and path sets
  precomputed, the Accept-Encoding and Content-Type decisions remembered per header value.
- Most responses are left as they are: ``CompressionPolicy.left_as_is`` decides them without a
  per-response object, and the WSGI adapter converts only the fields that decision reads.
- The ASGI adapter's ``send`` is a plain function returning the server's awaitable: a message
  costs no coroutine of the layer's own unless its body is encoded in a thread.
"""

from __future__ import annotations

import zlib
from collections.abc import Iterator
from enum import Enum
from functools import cached_property
from typing import Any, Protocol

import brotli

# zlib-ng where it has a wheel (see "What pays" above); any gzip decoder reads its streams.
_deflate: Any
try:
    from zlib_ng import zlib_ng as _deflate
except ImportError:  # a platform without zlib-ng wheels: the stdlib's zlib, same output format
    _deflate = zlib

_zstandard: Any
try:
    import zstandard as _zstandard
except ImportError:  # the optional "zstd" extra is not installed
    _zstandard = None


class Coding(Enum):
    """A content coding this package can produce, by its registered token."""

    ZSTD = "zstd"
    BR = "br"
    GZIP = "gzip"

    @cached_property
    def token(self) -> bytes:
        """The coding's name as it appears in Content-Encoding."""
        return self.value.encode("ascii")


def zstd_available() -> bool:
    """Whether the optional ``zstandard`` package could be imported."""
    return _zstandard is not None


class Encoder(Protocol):
    """One response's compression stream."""

    def compress(self, data: bytes) -> bytes:
        """Encode ``data`` and flush: the output so far decodes to everything fed so far."""
        ...

    def finish(self) -> bytes:
        """End the stream; the encoder cannot be used afterwards."""
        ...

    def close(self) -> None:
        """Give up the stream (client gone, app error) and release what it holds."""
        ...


class Codec(Protocol):
    """One coding's settings, fixed at construction, making encoders on demand."""

    coding: Coding

    def encoder(self, size_hint: int | None) -> Encoder:
        """A stream encoder; ``size_hint`` is the body length when the response declares it."""
        ...

    def compress_whole(self, body: bytes) -> bytes:
        """Encode a complete body in one call."""
        ...


# --- gzip -------------------------------------------------------------------------------------

# RFC 1952 framing (zlib's wbits 16 + 15): header, deflate stream, CRC-32 and length trailer.
_GZIP_WBITS = 16 + zlib.MAX_WBITS
_SYNC_FLUSH = _deflate.Z_SYNC_FLUSH
_FINISH = _deflate.Z_FINISH


class GzipEncoder:
    __slots__ = ("_zlib",)

    def __init__(self, level: int) -> None:
        self._zlib: Any = _deflate.compressobj(level, _deflate.DEFLATED, _GZIP_WBITS)

    def compress(self, data: bytes) -> bytes:
        if not data:
            # A sync flush with nothing pending would still emit an empty stored block.
            return b""
        stream = self._zlib
        # Z_SYNC_FLUSH ends on a byte boundary, so a client can inflate everything received.
        return stream.compress(data) + stream.flush(_SYNC_FLUSH)  # type: ignore[no-any-return]

    def finish(self) -> bytes:
        tail: bytes = self._zlib.flush(_FINISH)
        self._zlib = None
        return tail

    def close(self) -> None:
        self._zlib = None


class GzipCodec:
    __slots__ = ("level",)
    coding = Coding.GZIP

    def __init__(self, level: int) -> None:
        self.level = level

    def __repr__(self) -> str:
        return f"GzipCodec(level={self.level})"

    def encoder(self, size_hint: int | None) -> GzipEncoder:
        return GzipEncoder(self.level)

    def compress_whole(self, body: bytes) -> bytes:
        return _deflate.compress(body, self.level, wbits=_GZIP_WBITS)  # type: ignore[no-any-return]


# --- brotli -----------------------------------------------------------------------------------

_BROTLI_MIN_LGWIN = 10
# brotli's own default: a 4 MiB window, the most a body of unknown length is given.
_BROTLI_DEFAULT_LGWIN = 22


def brotli_window(size: int | None) -> int:
    """The smallest brotli window (log2) that holds a body of ``size`` bytes.

    The window is 2**lgwin - 16 bytes. A window larger than the body compresses no better but
    costs its full size in memory, allocated and faulted in again for every response.
    """
    if size is None:
        return _BROTLI_DEFAULT_LGWIN
    return max(_BROTLI_MIN_LGWIN, min(_BROTLI_DEFAULT_LGWIN, (size + 15).bit_length()))


class BrotliEncoder:
    __slots__ = ("_brotli",)

    def __init__(self, quality: int, lgwin: int) -> None:
        self._brotli: Any = brotli.Compressor(quality=quality, lgwin=lgwin)

    def compress(self, data: bytes) -> bytes:
        if not data:
            return b""
        stream = self._brotli
        return stream.process(data) + stream.flush()  # type: ignore[no-any-return]

    def finish(self) -> bytes:
        tail: bytes = self._brotli.finish()
        self._brotli = None
        return tail

    def close(self) -> None:
        self._brotli = None


class BrotliCodec:
    __slots__ = ("quality",)
    coding = Coding.BR

    def __init__(self, quality: int) -> None:
        self.quality = quality

    def __repr__(self) -> str:
        return f"BrotliCodec(quality={self.quality})"

    def encoder(self, size_hint: int | None) -> BrotliEncoder:
        return BrotliEncoder(self.quality, brotli_window(size_hint))

    def compress_whole(self, body: bytes) -> bytes:
        return brotli.compress(body, quality=self.quality, lgwin=brotli_window(len(body)))  # type: ignore[no-any-return]


# --- zstd -------------------------------------------------------------------------------------

# RFC 9659 §3: "the window_size ... MUST be limited to 8 MB" -- 2**23 bytes. Levels up to 19 stay
# within it (17-19 use exactly 8 MB); the "ultra" levels 20-22 would take 32-128 MB, so there the
# window is capped (``_zstd_options``). A capped level 22 still searches harder than 19.
ZSTD_MAX_LEVEL = 22
ZSTD_MAX_WINDOW = 1 << 23
_ZSTD_WINDOW_LOG = 23
# Compression contexts kept for reuse: a response that finds the pool empty builds its own, and
# the pool keeps at most this many once they are handed back.
_ZSTD_POOL_SIZE = 8


def _zstd_options(level: int) -> dict[str, Any]:
    """The ``ZstdCompressor`` arguments for ``level``, its window within RFC 9659's 8 MB."""
    defaults = _zstandard.ZstdCompressionParameters.from_level(level)
    if defaults.window_log <= _ZSTD_WINDOW_LOG:
        return {"level": level}
    # zstd fits the hash and chain tables to the window only when it knows the body's size
    # (ZSTD_adjustCParams); for a stream they would keep the sizes made for a 128 MB window
    # (about 640 MB of tables at level 22), so they are capped here as zstd would cap them.
    parameters = _zstandard.ZstdCompressionParameters(
        compression_level=level,
        window_log=_ZSTD_WINDOW_LOG,
        hash_log=min(defaults.hash_log, _ZSTD_WINDOW_LOG + 1),
        chain_log=min(defaults.chain_log, _ZSTD_WINDOW_LOG + 1),
    )
    return {"compression_params": parameters}


class ZstdEncoder:
    __slots__ = ("_codec", "_context", "_stream")

    def __init__(self, codec: ZstdCodec) -> None:
        self._codec = codec
        self._context: Any = codec.acquire()
        self._stream: Any = self._context.compressobj()

    def compress(self, data: bytes) -> bytes:
        if not data:
            return b""
        stream = self._stream
        return stream.compress(data) + stream.flush(_zstandard.COMPRESSOBJ_FLUSH_BLOCK)  # type: ignore[no-any-return]

    def finish(self) -> bytes:
        tail: bytes = self._stream.flush(_zstandard.COMPRESSOBJ_FLUSH_FINISH)
        self.close()
        return tail

    def close(self) -> None:
        if self._context is not None:
            self._stream = None
            self._codec.release(self._context)
            self._context = None


class ZstdCodec:
    __slots__ = ("_options", "_pool", "level")
    coding = Coding.ZSTD

    def __init__(self, level: int) -> None:
        if _zstandard is None:
            raise RuntimeError("zstd needs the zstandard package: gateway-middleware[zstd].")
        self.level = level
        self._options = _zstd_options(level)
        self._pool: list[Any] = []

    def __repr__(self) -> str:
        return f"ZstdCodec(level={self.level})"

    def acquire(self) -> Any:
        """A compression context from the pool, or a new one."""
        try:
            return self._pool.pop()
        except IndexError:
            return _zstandard.ZstdCompressor(**self._options)

    def release(self, context: Any) -> None:
        """Hand a context back; the next stream on it starts from a reset session."""
        if len(self._pool) < _ZSTD_POOL_SIZE:
            self._pool.append(context)

    def encoder(self, size_hint: int | None) -> ZstdEncoder:
        # The size is not pledged: an app whose body disagrees with its Content-Length would
        # make zstd fail the whole frame at its end.
        return ZstdEncoder(self)

    def compress_whole(self, body: bytes) -> bytes:
        context = self.acquire()
        try:
            # A one-shot frame records the content size, and zstd sizes the window to it.
            return context.compress(body)  # type: ignore[no-any-return]
        finally:
            self.release(context)


# --- request decoders ---------------------------------------------------------------------------

# Every decoder takes its input in slices of at most this many bytes, whatever it is handed (a
# server's message, or the whole output of the previous coding of a chain). When a gzip member
# or a zstd frame ends, zlib and zstandard copy the rest of their input into ``unused_data``:
# handed 10 MiB of 20-byte empty gzip members at once, copying the rest for every member made a
# 41-byte request ("Content-Encoding: gzip, br") cost minutes of CPU (issue 16). A slice bounds
# each copy to 64 KiB.
DECODE_SLICE = 64 * 1024

# A gzip member or a zstd frame costs a fresh decompression object and one copy of the rest of
# its slice, however few bytes it holds (an empty gzip member is 20 bytes, a skippable zstd frame
# 8), so a body may hold at most this many per coding; past it the body is refused as too large
# (413), as one over ``max_request_size`` is. Real multi-member bodies hold a handful (BGZF, the
# most fragmented in use, has one member per 64 KiB: 160 for 10 MiB).
MAX_MEMBERS = 1024


class DecodeError(Exception):
    """The encoded body is corrupt or truncated."""


class LimitExceeded(Exception):
    """Decoding would produce more bytes than allowed."""


class TooManyMembers(Exception):
    """The body holds more than ``MAX_MEMBERS`` gzip members or zstd frames."""


class Decoder(Protocol):
    """One request body's decompression stream, with bounded output and bounded work."""

    def feed(self, data: bytes, limit: int) -> bytes:
        """Decode ``data``; raise LimitExceeded rather than return more than ``limit`` bytes."""
        ...

    def end(self) -> None:
        """Check that the stream ended where the body did; raise DecodeError if truncated."""
        ...


def _slices(data: bytes) -> Iterator[memoryview]:
    """``data`` in consecutive views of at most ``DECODE_SLICE`` bytes, without copying."""
    view = memoryview(data)
    for start in range(0, len(view), DECODE_SLICE):
        yield view[start : start + DECODE_SLICE]


class ZlibDecoder:
    """gzip (RFC 1952, up to ``MAX_MEMBERS`` members) or deflate (RFC 1950 zlib framing)."""

    __slots__ = ("_fed", "_members", "_multiple", "_stream", "_wbits")

    def __init__(self, wbits: int, *, members: bool) -> None:
        self._wbits = wbits
        self._multiple = members
        self._stream: Any = zlib.decompressobj(wbits)
        self._members = 1
        self._fed = False

    def feed(self, data: bytes, limit: int) -> bytes:
        parts: list[bytes] = []
        produced = 0
        for piece in _slices(data):
            self._fed = True
            rest: memoryview | bytes = piece
            while rest:
                stream = self._stream
                if stream.eof:
                    stream = self._next_member()
                try:
                    # Asking for one byte more than allowed tells "exactly at the limit" from
                    # "over".
                    out = stream.decompress(rest, limit - produced + 1)
                except zlib.error as exc:
                    raise DecodeError(str(exc)) from None
                produced += len(out)
                if produced > limit:
                    raise LimitExceeded
                parts.append(out)
                # Under its output cap zlib takes the whole slice, unless the member ends inside
                # it: the rest of the slice then comes back as unused_data.
                rest = stream.unused_data if stream.eof else b""
        return b"".join(parts)

    def _next_member(self) -> Any:
        if not self._multiple:
            raise DecodeError("data after the end of the deflate stream")
        # RFC 1952 §2.2: "A gzip file consists of a series of "members" (compressed data sets)."
        if self._members == MAX_MEMBERS:
            raise TooManyMembers
        self._members += 1
        self._stream = zlib.decompressobj(self._wbits)
        return self._stream

    def end(self) -> None:
        if self._fed and not self._stream.eof:
            raise DecodeError("truncated stream")


class BrotliDecoder:
    __slots__ = ("_fed", "_stream")

    def __init__(self) -> None:
        self._stream: Any = brotli.Decompressor()
        self._fed = False

    def feed(self, data: bytes, limit: int) -> bytes:
        parts: list[bytes] = []
        produced = 0
        stream = self._stream
        try:
            for piece in _slices(data):
                self._fed = True
                out: bytes = stream.process(piece, output_buffer_limit=limit - produced + 1)
                parts.append(out)
                produced += len(out)
                # Past the output limit the decoder keeps input back; it must be drained with
                # empty input until it can accept more.
                while produced <= limit and not stream.can_accept_more_data():
                    out = stream.process(b"", output_buffer_limit=limit - produced + 1)
                    parts.append(out)
                    produced += len(out)
                if produced > limit:
                    raise LimitExceeded
        except brotli.error as exc:
            raise DecodeError(str(exc)) from None
        return b"".join(parts)

    def end(self) -> None:
        if self._fed and not self._stream.is_finished():
            raise DecodeError("truncated stream")


# A zstd block holds at most 128 KiB and can be as small as 4 bytes (an RLE block), so one input
# byte may stand for up to 32 KiB of output. zstandard's decompressobj has no output cap, so
# input is fed in slices small enough that one slice cannot overshoot the budget by much.
_ZSTD_MAX_RATIO = 32_768
_ZSTD_MIN_SLICE = 64


class ZstdDecoder:
    """zstd (RFC 8878), up to ``MAX_MEMBERS`` frames, skippable frames included."""

    __slots__ = ("_context", "_fed", "_frames", "_stream")

    def __init__(self) -> None:
        self._context: Any = _zstandard.ZstdDecompressor(max_window_size=ZSTD_MAX_WINDOW)
        self._stream: Any = self._context.decompressobj()
        self._frames = 1
        self._fed = False

    def feed(self, data: bytes, limit: int) -> bytes:
        parts: list[bytes] = []
        produced = 0
        view = memoryview(data)
        start = 0
        while start < len(view):
            self._fed = True
            if self._stream.eof:
                self._next_frame()
            step = max(_ZSTD_MIN_SLICE, (limit - produced) // _ZSTD_MAX_RATIO)
            piece = view[start : start + min(step, DECODE_SLICE)]
            try:
                out = self._stream.decompress(piece)
            except _zstandard.ZstdError as exc:
                raise DecodeError(str(exc)) from None
            produced += len(out)
            if produced > limit:
                raise LimitExceeded
            parts.append(out)
            # Input past the end of a frame comes back as unused data: the next frame starts
            # there.
            start += len(piece) - len(self._stream.unused_data)
        return b"".join(parts)

    def _next_frame(self) -> None:
        # RFC 8878 §3: "Zstandard compressed data is made up of one or more frames."
        if self._frames == MAX_MEMBERS:
            raise TooManyMembers
        self._frames += 1
        self._stream = self._context.decompressobj()

    def end(self) -> None:
        if self._fed and not self._stream.eof:
            raise DecodeError("truncated stream")


def decoder_for(token: bytes) -> Decoder | None:
    """A fresh decoder for a request Content-Encoding token (lower-case), or None if unknown."""
    # RFC 9110 §8.4.1.3: "A recipient SHOULD consider "x-gzip" to be equivalent to "gzip"."
    if token == b"gzip" or token == b"x-gzip":
        return ZlibDecoder(_GZIP_WBITS, members=True)
    # RFC 9110 §8.4.1.2: "deflate" is the "zlib" data format (RFC 1950), not raw deflate.
    if token == b"deflate":
        return ZlibDecoder(zlib.MAX_WBITS, members=False)
    if token == b"br":
        return BrotliDecoder()
    if token == b"zstd" and _zstandard is not None:
        return ZstdDecoder()
    return None


def decodable_tokens() -> tuple[bytes, ...]:
    """The request codings ``decoder_for`` knows, for a 415's Accept-Encoding."""
    tokens = (b"gzip", b"deflate", b"br")
    return (*tokens, b"zstd") if _zstandard is not None else tokens
