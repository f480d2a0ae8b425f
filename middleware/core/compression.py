"""Response compression and request decompression, decided in pure code.

``CompressionPolicy`` holds one middleware's validated options. Most responses are left as
they are, and ``left_as_is(status, headers)`` gives their head (Vary merged for a compressible
type) with no per-response object. For a head that may be encoded, ``begin`` gives the request
a ``ResponseCompression`` with the verbs of every feature: ``start`` returns the head to send,
or ``Phase.HELD`` when the first body piece decides; ``body`` returns the bytes to send for each
piece; ``end`` releases the encoder. With ``decompress_requests``, ``request`` hands out a
``RequestDecoder`` that decodes an encoded request body within ``max_request_size``: the
adapters ``take`` each piece until it is ``done``, then call the app with its ``body()`` or
send its ``rejection``. The WSGI and ASGI ``CompressionMiddleware`` and
``GZipMiddleware`` only translate messages to these calls.

    policy = CompressionPolicy.from_options(minimum_size=500, encodings=("zstd", "br", "gzip"))
    head = policy.left_as_is(200, [(b"content-type", b"image/png")])  # None: may be encoded
    response = policy.begin([(b"accept-encoding", b"br")], head_request=False)
    sent = response.start(200, [(b"content-type", b"text/html")])  # Phase.HELD: body decides
    first = response.body(chunk, more=True)   # after a held start, send response.headers first
    last = response.body(b"", more=False)     # the encoder's tail
    response.end()                            # once, however the response ended

Options (``from_options``; ``for_gzip`` takes Starlette's GZipMiddleware options instead):

- ``minimum_size`` (500): bodies known to be shorter go out as they are. A body's size is known
  from Content-Length or when it arrives in one piece; a stream of unknown length is compressed.
- ``encodings`` (zstd, br, gzip): the server's order of preference, used to break ties between
  codings the client weights equally. zstd is skipped when ``zstandard`` is not installed.
- ``gzip_level`` (6, 0-9), ``brotli_quality`` (4, 0-11), ``zstd_level`` (3, up to 22; the
  window stays within RFC 9659's 8 MB at every level, so 20-22 search harder but keep it).
- ``compressible_types``: media types worth compressing; ``type/*``, ``*/*+json``-style suffix
  patterns allowed. Responses without a Content-Type are never compressed.
- ``exclude_paths``: request paths left alone entirely; an entry ending in ``/`` is a prefix.
- ``decompress_requests`` (False) and ``max_request_size`` (10 MiB): decode request bodies sent
  with a Content-Encoding, answering 413 past the size (received or decoded, at any coding of a
  chain) or past 1024 gzip members or zstd frames, 415 for an unknown coding, 400 for a corrupt
  stream or a chain of more than two codings. The work is linear in the size.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass, field
from enum import Enum
from typing import Literal

from middleware.core import codecs
from middleware.core.codecs import (
    Codec,
    Coding,
    DecodeError,
    Decoder,
    Encoder,
    LimitExceeded,
    TooManyMembers,
)
from middleware.core.headers import (
    Headers,
    get_list,
    is_token,
    merge_vary,
    parse_qlist,
    split_list,
    without,
)
from middleware.core.responses import Response, plain

__all__ = [
    "DEFAULT_COMPRESSIBLE_TYPES",
    "DEFAULT_EXCLUDED_CONTENT_TYPES",
    "EDITED_FIELDS",
    "HEAD_FIELDS",
    "STREAMING_TYPES",
    "CompressionPolicy",
    "MediaTypes",
    "Phase",
    "RequestDecoder",
    "ResponseCompression",
    "choose_coding",
    "decoded_request_headers",
]

DEFAULT_COMPRESSIBLE_TYPES: tuple[str, ...] = (
    "text/*",
    "application/json",
    "*/*+json",
    "application/xml",
    "*/*+xml",
    "application/javascript",
    "application/x-javascript",
    "application/ecmascript",
    "application/wasm",
    "application/x-ndjson",
    "application/ndjson",
    "application/jsonl",
    "application/json-seq",
    "application/yaml",
    "application/x-yaml",
    "application/toml",
    "application/graphql",
    "application/x-www-form-urlencoded",
    "application/protobuf",
    "application/x-protobuf",
    "application/rtf",
    "application/x-sh",
    "application/sql",
    "application/vnd.ms-fontobject",
    "application/x-font-ttf",
    "application/x-font-opentype",
    "font/ttf",
    "font/otf",
    "font/collection",
    "image/bmp",
    "image/x-icon",
    "image/vnd.microsoft.icon",
)
"""Text, JSON/XML/JavaScript families, wasm, uncompressed fonts and images. Already-compressed
formats (JPEG, PNG, WebP, WOFF2, zip, gzip, audio, video) are left out."""

DEFAULT_EXCLUDED_CONTENT_TYPES: tuple[str, ...] = (
    "application/grpc",
    "application/gzip",
    "application/x-gzip",
    "application/zip",
    "audio/*",
    "font/woff",
    "font/woff2",
    "image/avif",
    "image/gif",
    "image/jpeg",
    "image/png",
    "image/webp",
    "text/event-stream",
    "video/*",
)
"""Starlette's GZipMiddleware deny list, the default of ``GZipMiddleware``."""

STREAMING_TYPES: frozenset[bytes] = frozenset(
    {
        b"text/event-stream",
        b"application/x-ndjson",
        b"application/ndjson",
        b"application/jsonl",
        b"application/json-seq",
    }
)
"""Media types whose responses are streams by nature: without a Content-Length the compressed
headers leave at once, rather than waiting for the first event to learn the body's size."""

_CODING_NAMES = {coding.value: coding for coding in Coding}
_GZIP_LEVELS = range(-1, 10)
_BROTLI_QUALITIES = range(12)
_ZSTD_LEVELS = range(-131_072, codecs.ZSTD_MAX_LEVEL + 1)
# Cache sizes: a header value seen before costs one dict lookup. Values past the length cap are
# worked out each time rather than cached, so odd clients cannot fill memory.
_CACHE_ENTRIES = 256
_CACHE_KEY_LIMIT = 1024
# Real Accept-Encoding values are under 100 bytes; parsing a 10 KB one costs about 2 ms. A value
# this long is not read at all: the response goes out unencoded, which every client accepts.
_ACCEPT_ENCODING_LIMIT = 1024
# A request body may carry a chain of codings. Each coding may decode up to max_request_size
# bytes and hold its own window, so a chain multiplies the work and memory one small body can
# ask for: "gzip, gzip, gzip, ..." would be a cheap way to make the server spin and allocate.
# Longer chains are refused (400) before any byte is read.
_MAX_REQUEST_CODINGS = 2

_VARY_NAMES = (b"Accept-Encoding",)
VARY_FIELD = (b"vary", b"Accept-Encoding")

# RFC 9110 §15.3.5-15.3.7, §15.4.5: 204 and 304 have no content and 205 must not; a 206 carries
# byte ranges of the unencoded representation, which encoding would scramble. 1xx are interim.
_UNTOUCHED_STATUSES = frozenset({204, 205, 206, 304})
# RFC 9110 §15.3.7 (206) and §15.4.5 (304): the server "MUST generate ... Vary" when it "would
# have been sent in a 200 (OK) response to the same request". Every policy keeps Vary on these.
_STANDS_FOR_200 = frozenset({206, 304})

HEAD_FIELDS = frozenset(
    {
        b"content-type",
        b"content-length",
        b"cache-control",
        b"vary",
        b"content-encoding",
        b"content-range",
    }
)
"""The response fields the decision reads (an app that encoded its body itself, or sends a byte
range, has fixed the bytes already): ``left_as_is`` decides alike on these alone."""

EDITED_FIELDS = HEAD_FIELDS | {b"etag", b"accept-ranges"}
"""The response fields the rules read or change (an encoded body has a weak ETag and no byte
ranges): ``ResponseCompression.start`` given only these decides alike, and every other field of
the app's head goes out as it is."""


class Phase(Enum):
    """Where a ResponseCompression is in its response."""

    WAITING = "waiting"
    """Made by ``CompressionPolicy.begin``; no response start yet."""
    HELD = "held"
    """Start seen; the first body piece decides (is it the whole body, and how large?)."""
    IDENTITY = "identity"
    """The body goes out as the app sent it (the head may have gained Vary)."""
    COMPRESSING = "compressing"
    """Each body piece goes through the encoder and is flushed (a HEAD's: none, no bytes)."""
    DONE = "done"
    """The body has ended, or the response was released."""


# --- configuration ------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class MediaTypes:
    """Media type patterns: ``type/subtype``, ``type/*``, ``*/*``, ``type/*+suffix`` and
    ``*/*+suffix``; ``media in types`` takes a lower-case media type without parameters."""

    patterns: frozenset[bytes]

    def __contains__(self, media: bytes) -> bool:
        patterns = self.patterns
        if not patterns:
            return False
        if media in patterns or b"*/*" in patterns:
            return True
        kind, _, subtype = media.partition(b"/")
        if kind + b"/*" in patterns:
            return True
        plus = subtype.rfind(b"+")
        if plus < 0:
            return False
        # RFC 6838 §4.2.8 structured syntax suffixes: "image/svg+xml" is XML, and (as Starlette
        # matches it) "application/grpc+proto" is gRPC.
        suffix = subtype[plus:]
        return (
            kind + b"/" + subtype[:plus] in patterns
            or kind + b"/*" + suffix in patterns
            or b"*/*" + suffix in patterns
        )


def _media_patterns(name: str, value: object) -> MediaTypes:
    entries = _names(name, value)
    patterns: set[bytes] = set()
    for entry in entries:
        media = entry.partition(";")[0].strip().lower()
        kind, slash, subtype = media.partition("/")
        wildcard = subtype == "*" or (subtype.startswith("*+") and _is_token(subtype[2:]))
        named = not subtype.startswith("*") and _is_token(subtype)
        if (
            not slash
            or not (wildcard or (named and kind != "*"))
            or not (kind == "*" or _is_token(kind))
        ):
            raise ValueError(
                f"{name} entries must be media types such as 'text/html', 'text/*' or "
                f"'*/*+json', got {entry!r}."
            )
        patterns.add(media.encode("ascii"))
    return MediaTypes(frozenset(patterns))


def _is_token(text: str) -> bool:
    return text.isascii() and is_token(text.encode("ascii"))


def _names(name: str, value: object) -> tuple[str, ...]:
    if isinstance(value, str | bytes) or not isinstance(value, Iterable):
        raise TypeError(f"{name} must be a list or tuple of strings, got {value!r}.")
    items = tuple(value)
    for item in items:
        if not isinstance(item, str):
            raise TypeError(f"{name} must contain only strings, got {item!r}.")
    return items


def _integer(name: str, value: object, allowed: range) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer, got {value!r}.")
    if value not in allowed:
        raise ValueError(
            f"{name} must be from {allowed.start} to {allowed.stop - 1}, got {value!r}."
        )
    return value


def _size(name: str, value: object, *, minimum: int) -> int:
    if not isinstance(value, int) or isinstance(value, bool):
        raise TypeError(f"{name} must be an integer number of bytes, got {value!r}.")
    if value < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {value!r}.")
    return value


def _codecs(
    encodings: object, gzip_level: int, brotli_quality: int, zstd_level: int
) -> tuple[Codec, ...]:
    names = _names("encodings", encodings)
    if not names:
        raise ValueError("encodings must name at least one of 'zstd', 'br', 'gzip', got ().")
    chosen: list[Codec] = []
    for position, name in enumerate(names):
        coding = _CODING_NAMES.get(name)
        if coding is None:
            raise ValueError(f"encodings entries must be 'zstd', 'br' or 'gzip', got {name!r}.")
        if name in names[:position]:
            raise ValueError(f"encodings lists {name!r} twice.")
        if coding is Coding.GZIP:
            chosen.append(codecs.GzipCodec(gzip_level))
        elif coding is Coding.BR:
            chosen.append(codecs.BrotliCodec(brotli_quality))
        elif codecs.zstd_available():
            chosen.append(codecs.ZstdCodec(zstd_level))
    return tuple(chosen)


def _paths(value: object) -> tuple[frozenset[str], tuple[str, ...]]:
    entries = _names("exclude_paths", value)
    for entry in entries:
        if not entry.startswith("/"):
            raise ValueError(f"exclude_paths entries must start with '/', got {entry!r}.")
    return (
        frozenset(entry for entry in entries if not entry.endswith("/")),
        tuple(entry for entry in entries if entry.endswith("/")),
    )


@dataclass(frozen=True, slots=True, kw_only=True)
class CompressionPolicy:
    """One middleware's compression settings, validated once; build it with ``from_options``
    (CompressionMiddleware) or ``for_gzip`` (GZipMiddleware)."""

    minimum_size: int
    codecs: tuple[Codec, ...]
    """Codecs in the server's order of preference, installed ones only."""
    compressible: MediaTypes
    excluded: MediaTypes
    exact_paths: frozenset[str]
    path_prefixes: tuple[str, ...]
    filters_paths: bool
    """Whether ``exclude_paths`` was given (adapters skip computing the path otherwise)."""
    reads_requests: bool
    """Whether a request needs looking at before the app runs (``exclude_paths`` or
    ``decompress_requests``): one test on the per-request path when neither is set."""
    decompress_requests: bool
    max_request_size: int
    thread_minimum_size: int | None
    """Chunks at least this large may be compressed off the event loop (GZipMiddleware)."""
    untyped: bool
    """Whether a response without a Content-Type may be encoded (GZipMiddleware, as
    Starlette's: a StreamingResponse without ``media_type`` is still compressed)."""
    vary_always: bool
    """Whether every response of a compressible type gets ``Vary: Accept-Encoding``
    (CompressionMiddleware). Without it (GZipMiddleware, as Starlette's), a response that goes
    out as it is to every client (a body known to be small, 204, 205, the app's own
    Content-Encoding or Content-Range, ``no-transform``) gets none; 206 and 304 keep it."""
    encode_any: bool
    """Whether a whole body that reaches ``minimum_size`` is encoded even when that does not
    make it smaller, an empty one included (GZipMiddleware, as Starlette's)."""
    _negotiated: dict[bytes, Codec | None] = field(default_factory=dict, repr=False, compare=False)
    _media: dict[bytes, bytes] = field(default_factory=dict, repr=False, compare=False)

    @classmethod
    def from_options(
        cls,
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
    ) -> CompressionPolicy:
        """The policy of ``CompressionMiddleware``; raises TypeError/ValueError on bad options."""
        if not isinstance(decompress_requests, bool):
            raise TypeError(
                f"decompress_requests must be True or False, got {decompress_requests!r}."
            )
        exact_paths, path_prefixes = _paths(exclude_paths)
        return cls(
            minimum_size=_size("minimum_size", minimum_size, minimum=0),
            codecs=_codecs(
                encodings,
                _integer("gzip_level", gzip_level, _GZIP_LEVELS),
                _integer("brotli_quality", brotli_quality, _BROTLI_QUALITIES),
                _integer("zstd_level", zstd_level, _ZSTD_LEVELS),
            ),
            compressible=_media_patterns("compressible_types", compressible_types),
            excluded=MediaTypes(frozenset()),
            exact_paths=exact_paths,
            path_prefixes=path_prefixes,
            filters_paths=bool(exact_paths or path_prefixes),
            reads_requests=bool(exact_paths or path_prefixes or decompress_requests),
            decompress_requests=decompress_requests,
            max_request_size=_size("max_request_size", max_request_size, minimum=1),
            thread_minimum_size=None,
            untyped=False,
            vary_always=True,
            encode_any=False,
        )

    @classmethod
    def for_gzip(
        cls,
        *,
        minimum_size: int = 500,
        compresslevel: int = 9,
        thread_minimum_size: int = 131_072,
        exclude_content_types: Iterable[str] = DEFAULT_EXCLUDED_CONTENT_TYPES,
    ) -> CompressionPolicy:
        """The policy of ``GZipMiddleware``: gzip only, every type but ``exclude_content_types``
        (no Content-Type included), Vary and sizes as Starlette's (``vary_always``,
        ``encode_any``)."""
        return cls(
            minimum_size=_size("minimum_size", minimum_size, minimum=0),
            codecs=(codecs.GzipCodec(_integer("compresslevel", compresslevel, _GZIP_LEVELS)),),
            compressible=MediaTypes(frozenset({b"*/*"})),
            excluded=_media_patterns("exclude_content_types", exclude_content_types),
            exact_paths=frozenset(),
            path_prefixes=(),
            filters_paths=False,
            reads_requests=False,
            decompress_requests=False,
            max_request_size=10_485_760,
            thread_minimum_size=_size("thread_minimum_size", thread_minimum_size, minimum=0),
            untyped=True,
            vary_always=False,
            encode_any=True,
        )

    # --- per request ------------------------------------------------------------------------

    def begin(self, request_headers: Headers, *, head_request: bool) -> ResponseCompression:
        """One response's compression; ``request_headers`` need hold only Accept-Encoding,
        read when a response could be encoded. ``head_request``: the method was HEAD."""
        return ResponseCompression(self, request_headers, head_request=head_request)

    def excludes(self, path: str) -> bool:
        """Whether responses to ``path`` are left alone entirely."""
        return path in self.exact_paths or path.startswith(self.path_prefixes)

    def request(self, request_headers: Headers) -> RequestDecoder | None:
        """How to read this request's body: None (as it is), or the ``RequestDecoder`` to feed
        it through. The head alone may refuse it (400 for more than two codings, 415 for an
        unknown one, 413 for a declared length over the limit): the decoder is then ``done``
        already, with that ``rejection``, and no byte need be read.

        RFC 9110 §8.4: "If one or more encodings have been applied to a representation, the
        sender that applied the encodings MUST generate a Content-Encoding header field that
        lists the content codings in the order in which they were applied."
        """
        if not self.decompress_requests:
            return None
        raw = get_list(request_headers, b"content-encoding")
        if raw is None:
            return None
        tokens = [token.lower() for token in split_list(raw)]
        tokens = [token for token in tokens if token != b"identity"]
        if not tokens:
            return None
        if len(tokens) > _MAX_REQUEST_CODINGS:
            return RequestDecoder.refusing(TOO_MANY_CODINGS)
        chain: list[Decoder] = []
        for token in reversed(tokens):
            decoder = codecs.decoder_for(token)
            if decoder is None:
                return RequestDecoder.refusing(UNSUPPORTED_ENCODING)
            chain.append(decoder)
        declared = get_list(request_headers, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_request_size:
            return RequestDecoder.refusing(TOO_LARGE)
        return RequestDecoder(chain, self.max_request_size)

    # --- decisions shared by every response, cached per header value ---------------------------

    def negotiate(self, accept_encoding: bytes | None) -> Codec | None:
        """The codec for a request's Accept-Encoding value, or None for no encoding."""
        if accept_encoding is None:
            # RFC 9110 §12.5.3 would allow any coding here; every browser sends the field, and
            # clients that do not (curl, scripts) expect plain bodies.
            return None
        cache = self._negotiated
        try:
            return cache[accept_encoding]
        except KeyError:
            pass
        if len(accept_encoding) > _ACCEPT_ENCODING_LIMIT:
            return None
        codings = tuple(codec.coding for codec in self.codecs)
        chosen = choose_coding(accept_encoding, codings)
        codec = None if chosen is None else self.codecs[codings.index(chosen)]
        if len(cache) >= _CACHE_ENTRIES:
            cache.clear()
        cache[accept_encoding] = codec
        return codec

    def left_as_is(self, status: int, headers: Headers, read: Head | None = None) -> Headers | None:
        """The head to send when a response is left as it is whatever the request and body:
        not of a compressible type, or of one but with no body to encode (its status, its
        Content-Encoding or Content-Range, ``no-transform``, a Content-Length under
        ``minimum_size``), with Vary merged in that case; None when it may be encoded.

        ``ResponseCompression.start`` asks this first, with the head it has already ``read``.
        Most responses are left as they are, so the adapters ask it before making one: such a
        response costs no object of its own.
        """
        # The rules in one function, with the media type's cache read inline: this runs for
        # every response, and each call it saves is about 1 % of the five-layer stack.
        if read is None:
            read = read_head(headers)
            if read is None:
                return None  # capitalised names: ``start`` reads the lower-cased head
        content_type, length, cache_control, varies, fixed = read
        if status < 200:
            return headers
        if content_type is None:
            if not self.untyped:
                return headers
        elif not (self._media.get(content_type) or self._media_type(content_type)):
            return headers  # not a type this policy compresses
        # Not a length (or conflicting ones) is unknown: the body may be large.
        size = int(length) if length is not None and length.isdigit() else None
        if (
            status in _UNTOUCHED_STATUSES
            or fixed
            or (cache_control is not None and _no_transform(cache_control))
            # Too small to be worth encoding (an empty body, unless ``encode_any``).
            or (
                size is not None
                and (size < self.minimum_size or (size == 0 and not self.encode_any))
            )
        ):
            if self.vary_always or status in _STANDS_FOR_200:
                return _varied(headers, varies=varies)
            return headers
        return None

    def _media_type(self, content_type: bytes) -> bytes:
        """The media type of a Content-Type value when this policy compresses it (lower-case,
        without parameters), else b""; remembered per value."""
        try:
            return self._media[content_type]
        except KeyError:
            pass
        media = content_type.partition(b";")[0].strip(b" \t").lower()
        verdict = media if media in self.compressible and media not in self.excluded else b""
        if len(content_type) <= _CACHE_KEY_LIMIT:
            if len(self._media) >= _CACHE_ENTRIES:
                self._media.clear()
            self._media[content_type] = verdict
        return verdict


def _no_transform(cache_control: bytes) -> bool:
    # RFC 9111 §5.2.2.6: "The no-transform response directive indicates that an intermediary
    # (regardless of whether it implements a cache) MUST NOT transform the content."
    return any(
        directive.partition(b"=")[0].rstrip(b" \t").lower() == b"no-transform"
        for directive in split_list(cache_control)
    )


def choose_coding(accept_encoding: bytes, offered: tuple[Coding, ...]) -> Coding | None:
    """The content coding to use for an Accept-Encoding value, or None for identity.

    RFC 9110 §12.5.3: the client's weights rank the codings; "*" matches any coding not listed;
    "identity" is acceptable unless excluded by ``identity;q=0`` or ``*;q=0``. The highest weight
    wins, identity included; equal weights go to ``offered`` order, identity last. Nothing
    acceptable means identity too: a 406 would only break the client.
    """
    weights: dict[bytes, float] = {}
    for token, q in parse_qlist(accept_encoding):
        # RFC 9110 §8.4.1.3: "A recipient SHOULD consider "x-gzip" to be equivalent to "gzip"."
        # A coding listed twice keeps its first weight.
        weights.setdefault(b"gzip" if token == b"x-gzip" else token, q)
    wildcard = weights.get(b"*")
    best: Coding | None = None
    best_q = 0.0
    for coding in offered:
        weight = weights.get(coding.token, wildcard)
        if weight is not None and weight > best_q:
            best, best_q = coding, weight
    if best is None:
        return None
    # Identity not named and no "*": acceptable, but after every coding the client listed.
    identity = weights.get(b"identity", wildcard)
    if identity is not None and identity > best_q:
        return None
    return best


# --- responses ----------------------------------------------------------------------------------


class ResponseCompression:
    """One response through the compression rules, from its start to its end.

    ``start`` takes the app's status and head and returns the head to send now, or
    ``Phase.HELD``: the first body piece decides (is it the whole body, and is it worth
    encoding?), and once ``body`` has seen it, ``headers`` holds the head to send before its
    bytes. ``body`` takes every body piece (``more=False`` on the last) and returns the bytes
    to send. ``end`` releases the encoder, however the response ended (client gone, app
    error); it is safe to call more than once. ``phase`` says where the response is. A HEAD is
    decided as its GET would be, from the body the app hands it, and sends no body bytes.
    """

    __slots__ = (
        "_app_headers",
        "_codec",
        "_encoder",
        "_head_request",
        "_length",
        "_policy",
        "_request_headers",
        "_trailers",
        "_varies",
        "headers",
        "phase",
    )
    headers: Headers | None
    """The head to send, once decided (after ``start``, or the first ``body`` after a held one)."""
    phase: Phase
    # Set by start for a response whose body may be encoded (no codec: only its Vary is open).
    _codec: Codec | None
    _app_headers: Headers
    _length: int | None
    _trailers: bool
    _varies: bool

    def __init__(
        self, policy: CompressionPolicy, request_headers: Headers, *, head_request: bool
    ) -> None:
        self._policy = policy
        self._request_headers = request_headers
        self._head_request = head_request
        self._encoder: Encoder | None = None
        self.headers = None
        self.phase = Phase.WAITING

    def start(
        self,
        status: int,
        headers: Headers,
        *,
        trailers: bool = False,
        hold: bool = True,
        read: Head | None = None,
    ) -> Headers | Literal[Phase.HELD]:
        """The head to send now, or ``Phase.HELD`` to wait for the first body piece.

        A head left as it is comes back as ``headers`` itself, or as a new list that adds
        ``Vary`` after the app's fields (merged into the app's Vary when it has one).
        ``trailers``: trailer fields follow the body, so it never gets an exact Content-Length.
        ``hold=False``: the head must leave now (a WSGI replacement start after the server had
        one), so a body to encode is streamed. ``read``: ``read_head(headers)``, given when the
        policy's ``left_as_is`` has already answered None for it (the adapters ask it before
        making a response), so the head is neither read nor decided twice.
        """
        if self.phase is not Phase.WAITING:
            raise RuntimeError("The response has already started.")
        self.phase = Phase.IDENTITY
        policy = self._policy
        if read is None:
            read = read_head(headers)
            if read is None:
                # Capitalised names (an ASGI app sending b"Content-Type"): the decision is made
                # on the lower-cased list, which is what goes out if anything changes.
                headers = [(name.lower(), value) for name, value in headers]
                read = read_head(headers)
                assert read is not None  # every name is lower-case now
            as_is = policy.left_as_is(status, headers, read)
            if as_is is not None:
                return as_is
        content_type, length, _, varies, _ = read
        codec = policy.negotiate(get_list(self._request_headers, b"accept-encoding"))
        if codec is None and policy.vary_always:
            return _varied(headers, varies=varies)
        self._codec = codec
        self._app_headers = headers
        self._length = int(length) if length is not None and length.isdigit() else None
        self._trailers = trailers
        self._varies = varies
        stream = content_type is not None and policy._media_type(content_type) in STREAMING_TYPES
        # A stream of unknown length is encoded whatever its size: its head leaves at once.
        if (stream and self._length is None) or not hold:
            return _varied(headers, varies=varies) if codec is None else self._begin_stream(codec)
        if codec is None and self._length is not None:
            return _varied(headers, varies=varies)  # not small (``left_as_is`` said so): it varies
        # RFC 9110 §9.3.2: "The server SHOULD send the same header fields in response to a HEAD
        # request as it would have sent if the request method had been GET." A HEAD is held as
        # the GET would be: given its body, it gets the GET's exact Content-Length. (No codec:
        # GZipMiddleware's Vary waits for the body's size, as Starlette's does.)
        self.phase = Phase.HELD
        return Phase.HELD

    def body(self, data: bytes, more: bool) -> bytes:
        """The bytes to send for one body piece; ``more=False`` marks the last one."""
        encoder = self._encoder
        if encoder is not None:  # compressing a stream
            out = encoder.compress(data)
            if not more:
                out += encoder.finish()
                self._encoder = None
                self.phase = Phase.DONE
            return out
        phase = self.phase
        if phase is Phase.HELD:
            return self._first(data, more)
        if phase is Phase.IDENTITY:
            if not more:
                self.phase = Phase.DONE
            return data
        if phase is Phase.COMPRESSING:  # a HEAD answered as a stream: no encoder
            if not more:
                self.phase = Phase.DONE
            return b""
        if phase is Phase.DONE:
            if data:
                raise RuntimeError("The app sent body bytes after its response ended.")
            return b""
        raise RuntimeError("The app sent a body before the response start.")

    def end(self) -> None:
        """Release the encoder (client gone, app error, or the body done); safe to repeat."""
        if self._encoder is not None:
            self._encoder.close()
            self._encoder = None
        self.phase = Phase.DONE

    def _first(self, data: bytes, more: bool) -> bytes:
        """Decide a held response with its first body piece."""
        length, codec, policy = self._length, self._codec, self._policy
        # A first piece exactly as long as the declared Content-Length is the whole body. A
        # HEAD answered without its body (RFC 9110 §9.3.2 lets the app leave it out, as
        # Starlette's FileResponse and Werkzeug do) says nothing of the GET's: a stream then.
        if (more and (length is None or len(data) != length)) or (
            self._head_request and not data and length != 0
        ):
            if codec is None:
                return self._as_sent(data, more, vary=True)
            self._begin_stream(codec)
            return self.body(data, more)
        size = len(data)
        if size < policy.minimum_size or not (size or policy.encode_any):
            return self._as_sent(data, more, vary=policy.vary_always)
        if codec is None:
            return self._as_sent(data, more, vary=True)
        encoded = codec.compress_whole(data)
        # Encoding can only add bytes to incompressible data: sent as it is then, unless the
        # policy encodes any size (Starlette's GZipMiddleware).
        if len(encoded) >= size and not policy.encode_any:
            return self._as_sent(data, more, vary=True)
        exact = None if self._trailers else len(encoded)
        self.headers = _encoded_headers(self._app_headers, codec.coding.token, exact)
        self.phase = Phase.DONE
        return b"" if self._head_request else encoded

    def _as_sent(self, data: bytes, more: bool, *, vary: bool) -> bytes:
        """A held response whose body goes out as the app sent it (none for a HEAD)."""
        self.headers = (
            _varied(self._app_headers, varies=self._varies) if vary else self._app_headers
        )
        self.phase = Phase.IDENTITY if more else Phase.DONE
        return b"" if self._head_request else data

    def _begin_stream(self, codec: Codec) -> Headers:
        if not self._head_request:  # a HEAD has no body to encode
            self._encoder = codec.encoder(self._length)
        self.headers = _encoded_headers(self._app_headers, codec.coding.token, None)
        self.phase = Phase.COMPRESSING
        return self.headers


Head = tuple[bytes | None, bytes | None, bytes | None, bool, bool]
"""What ``read_head`` returns: the values the rules read of a response head."""


def read_head(headers: Headers) -> Head | None:
    """What the rules read of a head, in one pass: Content-Type, Content-Length, Cache-Control
    (fields joined), whether a Vary field is there, and whether the bytes are fixed
    (Content-Encoding, Content-Range); None when a field name is not lower-case."""
    content_type = length = cache_control = None
    varies = fixed = False
    for name, value in headers:
        if name not in HEAD_FIELDS:
            if not name.islower() and name.lower() != name:
                return None
        elif name == b"content-type":
            if content_type is None:
                content_type = value
        elif name == b"content-length":
            # Conflicting fields make the length unknown (an empty value is no number).
            length = value if length is None or length == value else b""
        elif name == b"cache-control":
            cache_control = value if cache_control is None else cache_control + b"," + value
        elif name == b"vary":
            varies = True
        else:
            fixed = True
    return content_type, length, cache_control, varies, fixed


def _varied(headers: Headers, *, varies: bool) -> Headers:
    """``headers`` with Accept-Encoding in Vary: appended, or merged into the app's Vary.

    RFC 9110 §12.5.5: "An origin server SHOULD generate a Vary header field on a cacheable
    response when it wishes that response to be selectively reused for subsequent requests."
    The same URL answers differently by Accept-Encoding, encoded or not.
    """
    if varies:
        return merge_vary(headers, _VARY_NAMES)
    return [*headers, VARY_FIELD]


def _encoded_headers(headers: Headers, token: bytes, length: int | None) -> Headers:
    """The head of an encoded body: Content-Encoding, the exact length when known, and Vary."""
    out: Headers = []
    varies = False
    for name, value in headers:
        if name == b"content-length" or name == b"accept-ranges":
            # Byte ranges and lengths of the unencoded body do not describe the encoded one.
            continue
        if name == b"etag":
            if not value.startswith(b"W/"):
                # RFC 9110 §8.8.1: "if the origin server sends the same validator for a
                # representation with a gzip content coding applied as it does for a
                # representation with no content coding, then that validator is weak."
                value = b"W/" + value
        elif name == b"vary":
            varies = True
        out.append((name, value))
    out.append((b"content-encoding", token))
    if length is not None:
        out.append((b"content-length", b"%d" % length))
    return _varied(out, varies=varies)


# --- requests -----------------------------------------------------------------------------------

TOO_LARGE = plain(413, b"Request body too large.\n")
# RFC 9110 §15.5.16: "If the problem was caused by an unsupported content coding, the
# Accept-Encoding response header field ought to be used to indicate which (if any) content
# codings would have been accepted in the request."
UNSUPPORTED_ENCODING = plain(
    415,
    b"Unsupported request Content-Encoding.\n",
    (b"accept-encoding", b", ".join(codecs.decodable_tokens())),
)
CORRUPT_BODY = plain(400, b"Request body could not be decoded.\n")
# No client stacks more than two codings; a 415 would be wrong, as its Accept-Encoding would list
# the very codings the request used.
TOO_MANY_CODINGS = plain(400, b"Request Content-Encoding has too many codings.\n")
# RFC 9110 §15.5.14: 413 "indicates that the server is refusing to process a request because the
# request content is larger than the server is willing or able to process": here, in members.
TOO_MANY_MEMBERS = plain(413, b"Request body has too many gzip members or zstd frames.\n")


class RequestDecoder:
    """Decodes one request body, never holding or returning more than ``limit`` bytes.

    The adapters ``take`` each received piece, ``more=False`` with the last, until ``done``;
    then either ``rejection`` is the Response to send instead of calling the app (413 past the
    limit or past ``codecs.MAX_MEMBERS`` gzip members or zstd frames, 400 for a corrupt or
    truncated stream, or the head's own refusal from ``CompressionPolicy.request``), or
    ``body()`` is the decoded body the app gets. ``feed`` is the step under ``take``: the
    decoded bytes of one piece, kept nowhere. Every coding must end with the last piece, and
    after a rejection every call returns the same one.

    The work is linear in the bytes received plus the bytes each coding of the chain puts out,
    each capped at ``limit``, at a cost per byte that no shape of body can raise much: the
    decoders take their input in bounded slices and count gzip members and zstd frames
    (``bench/decoding_bombs.py`` measures every shape known).
    """

    __slots__ = ("_chain", "_limit", "_parts", "_produced", "_received", "done", "rejection")
    done: bool
    """Whether the last piece was taken, or the body refused: nothing more is to be read."""
    rejection: Response | None
    """The answer to send instead of calling the app, once the body is refused."""

    def __init__(self, chain: list[Decoder], limit: int) -> None:
        self._chain = chain
        self._limit = limit
        self._produced = [0] * len(chain)
        self._received = 0
        self._parts: list[bytes] = []
        self.rejection = None
        self.done = False

    @classmethod
    def refusing(cls, rejection: Response) -> RequestDecoder:
        """A decoder for a body refused before any byte of it is read."""
        decoder = cls([], 0)
        decoder.rejection, decoder.done = rejection, True
        return decoder

    def take(self, data: bytes, more: bool) -> None:
        """Decode one received piece into ``body()``; ``done`` after the last, or a rejection."""
        out = self.feed(data, more)
        if isinstance(out, Response):
            self.done = True
        else:
            self._parts.append(out)
            self.done = not more

    def body(self) -> bytes:
        """The decoded body, once ``done`` without a rejection."""
        return b"".join(self._parts)

    def feed(self, data: bytes, more: bool) -> bytes | Response:
        """The decoded bytes of one received piece, or the rejection."""
        if self.rejection is not None:
            return self.rejection
        self._received += len(data)
        # The encoded bytes count too: empty gzip members decode to nothing but still take time.
        if self._received > self._limit:
            return self._reject(TOO_LARGE)
        produced = self._produced
        try:
            for stage, decoder in enumerate(self._chain):
                data = decoder.feed(data, self._limit - produced[stage])
                produced[stage] += len(data)
            if not more:
                for decoder in self._chain:
                    decoder.end()
        except LimitExceeded:
            return self._reject(TOO_LARGE)
        except TooManyMembers:
            return self._reject(TOO_MANY_MEMBERS)
        except DecodeError:
            return self._reject(CORRUPT_BODY)
        return data

    def _reject(self, rejection: Response) -> Response:
        self.rejection = rejection
        self._chain = []
        self._parts = []
        return rejection


def decoded_request_headers(headers: Headers, length: int) -> Headers:
    """The request headers the app sees once the body is decoded: no Content-Encoding, and the
    decoded length."""
    out = without(headers, b"content-encoding", b"content-length")
    out.append((b"content-length", b"%d" % length))
    return out
