"""Response compression and request decompression, decided in pure code.

``CompressionPolicy`` holds one middleware's validated options. Per response its ``head`` reads
the response head and the request's Accept-Encoding: most responses go out as they are (with
``Vary`` merged), and the rest get a ``ResponseCompressor`` that rewrites the headers and encodes
the body chunk by chunk. With ``decompress_requests`` it also hands out a ``RequestDecoder``
that decodes an encoded request body within ``max_request_size``. The WSGI and
ASGI ``CompressionMiddleware`` and ``GZipMiddleware`` only translate messages to these calls.

    policy = CompressionPolicy.from_options(minimum_size=500, encodings=("zstd", "br", "gzip"))
    decided = policy.head(200, [(b"content-type", b"text/html")], [(b"accept-encoding", b"br")])
    if isinstance(decided, ResponseCompressor):   # else: send the headers it is, body as it is
        headers = decided.start(head=False)       # None: the first body piece decides
        first = decided.body(chunk, more=True)    # now decided.headers is set: send them first
        last = decided.body(b"", more=False)      # the encoder's tail

Options (``from_options``; ``for_gzip`` takes Starlette's GZipMiddleware options instead):

- ``minimum_size`` (500): bodies known to be shorter go out as they are. A body's size is known
  from Content-Length or when it arrives in one piece; a stream of unknown length is compressed.
- ``encodings`` (zstd, br, gzip): the server's order of preference, used to break ties between
  codings the client weights equally. zstd is skipped when ``zstandard`` is not installed.
- ``gzip_level`` (6, 0-9), ``brotli_quality`` (4, 0-11), ``zstd_level`` (3, up to 19).
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
from typing import Any, Literal, overload

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
from middleware.core.responses import plain_headers

__all__ = [
    "DEFAULT_COMPRESSIBLE_TYPES",
    "DEFAULT_EXCLUDED_CONTENT_TYPES",
    "STREAMING_TYPES",
    "CompressionPolicy",
    "MediaTypes",
    "Phase",
    "Rejection",
    "RequestDecoder",
    "ResponseCompressor",
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
_VARY_FIELD = (b"vary", b"Accept-Encoding")

# RFC 9110 §15.3.5-15.3.7, §15.4.5: 204 and 304 have no content and 205 must not; a 206 carries
# byte ranges of the unencoded representation, which encoding would scramble. 1xx are interim.
_UNTOUCHED_STATUSES = frozenset({204, 205, 206, 304})

TextHeaders = list[tuple[str, str]]
"""Header pairs spelled as str (WSGI's native strings: latin-1, any case)."""

_TEXT_VARY_FIELD = ("Vary", "Accept-Encoding")

# The response fields a decision reads, as small codes (compared faster than bytes). ASGI
# requires lower-case names, but Django's ASGI handler sends b"Content-Type": names are looked up
# in a cache from each name seen to its code, plus _FOLDED when it is not lower-case, or 0 when
# it is not one of these fields, so any other field costs one dict lookup. Text names keep their
# case (a list left as it is goes back as it came), so they are never _FOLDED. The two spellings
# have separate caches: b"vary" and "vary" hash alike, and comparing them is a BytesWarning.
_TYPE, _LENGTH, _CACHE_CONTROL, _VARY, _FIXED = 1, 2, 3, 4, 5
_FOLDED = 8
_WATCHED = {
    "content-type": _TYPE,
    "content-length": _LENGTH,
    "cache-control": _CACHE_CONTROL,
    "vary": _VARY,
    # An app that encoded its body itself, or sends a byte range, has fixed the bytes already.
    "content-encoding": _FIXED,
    "content-range": _FIXED,
}
_FIELDS: dict[bytes, int] = {name.encode("ascii"): code for name, code in _WATCHED.items()}
_TEXT_FIELDS: dict[str, int] = dict(_WATCHED)
_FIELD_CACHE_ENTRIES = 4096


def _field(name: Any, text: bool) -> int:
    """The code of the watched field ``name`` names, whatever its case (and remember it)."""
    folded = name.lower()
    if text:
        code = _WATCHED.get(folded, 0)
        cache: dict[Any, int] = _TEXT_FIELDS
    else:
        code = _WATCHED.get(folded.decode("latin-1"), 0)
        if code and folded != name:
            code += _FOLDED
        cache = _FIELDS
    if len(cache) < _FIELD_CACHE_ENTRIES:
        cache[name] = code
    return code


def _comma(text: bool) -> Any:
    return "," if text else b","


def _from_text(headers: TextHeaders) -> Headers:
    return [(name.lower().encode("latin-1"), value.encode("latin-1")) for name, value in headers]


def _to_text(headers: Headers) -> TextHeaders:
    return [(name.decode("latin-1"), value.decode("latin-1")) for name, value in headers]


class _Media(Enum):
    OTHER = "other"
    COMPRESSIBLE = "compressible"
    STREAM = "stream"


class Phase(Enum):
    """Where a ResponseCompressor is in its response."""

    PENDING = "pending"
    """Made by ``CompressionPolicy.head``; ``start`` not called yet."""
    HELD = "held"
    """Start seen; the first body piece decides (is it the whole body, and how large?)."""
    IDENTITY = "identity"
    """The body goes out as the app sent it (the headers may have gained Vary)."""
    COMPRESSING = "compressing"
    """Each body piece goes through the encoder and is flushed."""
    DONE = "done"
    """The body has ended, or the response was released."""


# Looking a member up on an Enum class costs about 0.1 us on CPython 3.11, as much as the rest of
# a no-op response's bookkeeping; the per-response paths use these module-level names instead.
_PENDING = Phase.PENDING
_HELD = Phase.HELD
_IDENTITY = Phase.IDENTITY
_COMPRESSING = Phase.COMPRESSING
_DONE = Phase.DONE
_OTHER = _Media.OTHER
_STREAM = _Media.STREAM


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


def _zstd_level(value: object) -> int:
    if isinstance(value, int) and value > codecs.ZSTD_MAX_LEVEL:
        raise ValueError(
            f"zstd_level must be at most {codecs.ZSTD_MAX_LEVEL}: higher levels need a window "
            f"over the 8 MB that RFC 9659 allows in HTTP, got {value!r}."
        )
    return _integer("zstd_level", value, _ZSTD_LEVELS)


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
    _negotiated: dict[bytes, Codec | None] = field(default_factory=dict, repr=False, compare=False)
    _media: dict[bytes, _Media] = field(default_factory=dict, repr=False, compare=False)
    _text_media: dict[str, _Media] = field(default_factory=dict, repr=False, compare=False)
    _minimum_digits: int = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_minimum_digits", len(str(self.minimum_size)))

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
                _zstd_level(zstd_level),
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
        """The policy of ``GZipMiddleware``: gzip only, every type but ``exclude_content_types``."""
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
        )

    # --- per request ------------------------------------------------------------------------

    @overload
    def head(
        self, status: int, headers: Headers, request_headers: Headers, text: Literal[False] = ...
    ) -> Headers | ResponseCompressor: ...

    @overload
    def head(
        self, status: int, headers: TextHeaders, request_headers: Headers, text: Literal[True]
    ) -> TextHeaders | ResponseCompressor: ...

    def head(self, status: int, headers: Any, request_headers: Headers, text: bool = False) -> Any:
        """How a response with this head goes out, given the request's headers.

        A header list: send it, and the body as it is (the list is ``headers`` itself when
        nothing changes, else a new one with ``Vary`` merged). A ResponseCompressor: the body
        is to be encoded; its ``start`` says whether the headers can leave now. ``text=True``
        takes (and gives back) headers as str pairs, latin-1 as WSGI's native strings are, so
        a response left as it is costs no conversion.
        """
        if status < 200:
            return headers
        content_type = length_field = cache_control = None
        blocked = varies = False
        fields: dict[Any, int] = _TEXT_FIELDS if text else _FIELDS
        for name, value in headers:
            try:
                code = fields[name]
            except KeyError:  # a name not seen before (try costs nothing on CPython 3.11+)
                code = _field(name, text)
            if not code:
                continue
            if code == _TYPE:
                if content_type is None:
                    content_type = value
            elif code == _LENGTH:
                if length_field is None:
                    length_field = value
                elif length_field != value:
                    # Conflicting fields: the length is unknown (an empty value of the same
                    # spelling, so a third field still compares str with str).
                    length_field = value[:0]
            elif code == _CACHE_CONTROL:
                cache_control = (
                    value if cache_control is None else cache_control + _comma(text) + value
                )
            elif code == _VARY:
                varies = True
            elif code == _FIXED:
                blocked = True
            else:
                # A capitalised bytes name (Django's ASGI handler sends them): the decision is
                # made on the lower-cased list, which is what goes out if anything changes.
                lowered = [(name.lower(), value) for name, value in headers]
                return self.head(status, lowered, request_headers)
        if content_type is None:
            return headers
        try:
            media = (self._text_media if text else self._media)[content_type]
        except KeyError:
            media = self._classify(content_type, text)
        if media is _OTHER:
            return headers

        # RFC 9110 §12.5.5: "An origin server SHOULD generate a Vary header field on a cacheable
        # response when it wishes that response to be selectively reused for subsequent
        # requests." The same URL answers differently by Accept-Encoding, encoded or not.
        identity: Any
        if not varies:
            identity = [*headers, _TEXT_VARY_FIELD if text else _VARY_FIELD]
        elif text:
            identity = _to_text(merge_vary(_from_text(headers), _VARY_NAMES))
        else:
            identity = merge_vary(list(headers), _VARY_NAMES)
        if status in _UNTOUCHED_STATUSES or blocked:
            return identity
        if cache_control is not None and _no_transform(cache_control, text):
            return identity
        length = None
        if (
            length_field is not None
            and length_field.isdigit()
            and (not text or length_field.isascii())
        ):
            if len(length_field) < self._minimum_digits:
                return identity  # fewer digits than minimum_size: smaller, known without int()
            length = int(length_field)
            if length < self.minimum_size or length == 0:
                return identity
        codec = self.negotiate(get_list(request_headers, b"accept-encoding"))
        if codec is None:
            return identity
        app_headers = _from_text(headers) if text else list(headers)
        return ResponseCompressor(
            codec, app_headers, length, self.minimum_size, stream=media is _STREAM
        )

    def excludes(self, path: str) -> bool:
        """Whether responses to ``path`` are left alone entirely."""
        return path in self.exact_paths or path.startswith(self.path_prefixes)

    def request(self, request_headers: Headers) -> RequestDecoder | Rejection | None:
        """How to read this request's body: None (as it is), a decoder, or a rejection (400 for
        more than two codings, 415 for an unknown one, 413 for a declared length over the limit).

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
            return TOO_MANY_CODINGS
        chain: list[Decoder] = []
        for token in reversed(tokens):
            decoder = codecs.decoder_for(token)
            if decoder is None:
                return UNSUPPORTED_ENCODING
            chain.append(decoder)
        declared = get_list(request_headers, b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_request_size:
            return TOO_LARGE
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

    def _classify(self, content_type: Any, text: bool) -> _Media:
        """What a Content-Type value is to this policy, remembered per value."""
        cache: dict[Any, _Media] = self._text_media if text else self._media
        spelled: bytes = content_type.encode("latin-1") if text else content_type
        media = spelled.partition(b";")[0].strip(b" \t").lower()
        if media not in self.compressible or media in self.excluded:
            verdict = _Media.OTHER
        elif media in STREAMING_TYPES:
            verdict = _Media.STREAM
        else:
            verdict = _Media.COMPRESSIBLE
        if len(content_type) <= _CACHE_KEY_LIMIT:
            if len(cache) >= _CACHE_ENTRIES:
                cache.clear()
            cache[content_type] = verdict
        return verdict


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


class ResponseCompressor:
    """One response whose body is to be encoded, as ``CompressionPolicy.head`` decided.

    ``start`` returns the headers to send now, or None: hold them until the first body piece
    (is it the whole body, and is it worth encoding?). ``body`` takes every body piece
    (``more=False`` on the last) and returns the bytes to send; once it has seen the first
    piece, ``headers`` holds the head to send before them. ``release`` abandons the response
    (client gone, app error).
    """

    __slots__ = (
        "_app_headers",
        "_codec",
        "_encoder",
        "_length",
        "_minimum_size",
        "_stream",
        "_trailers",
        "headers",
        "phase",
    )
    headers: Headers | None
    """The response head to send, once decided."""

    def __init__(
        self,
        codec: Codec,
        app_headers: Headers,
        length: int | None,
        minimum_size: int,
        *,
        stream: bool,
    ) -> None:
        self._codec = codec
        self._app_headers = app_headers
        self._length = length
        self._minimum_size = minimum_size
        self._stream = stream
        self._trailers = False
        self._encoder: Encoder | None = None
        self.headers = None
        self.phase = _PENDING

    def start(self, head: bool, trailers: bool = False) -> Headers | None:
        """The headers to send now, or None to hold them until the first body piece.

        ``head``: the request was HEAD, so there is no body to encode. ``trailers``: trailer
        fields follow the body, so it never gets an exact Content-Length.
        """
        if self.phase is not _PENDING:
            raise RuntimeError("The response has already started.")
        self._trailers = trailers
        if head:
            # RFC 9110 §9.3.2: the server SHOULD send the same header fields in response to a
            # HEAD request as it would have sent if the request method had been GET. The
            # encoded length is unknown, so Content-Length goes; there is no body to encode.
            self.phase = _COMPRESSING
            self.headers = _encoded_headers(self._app_headers, self._codec.coding.token, None)
            return self.headers
        if self._stream and self._length is None:
            self._begin_stream()
            return self.headers
        self.phase = _HELD
        return None

    def body(self, data: bytes, more: bool) -> bytes:
        """The bytes to send for one body piece; ``more=False`` marks the last one."""
        phase = self.phase
        if phase is _IDENTITY:
            if not more:
                self.phase = _DONE
            return data
        if phase is _COMPRESSING:
            encoder = self._encoder
            if encoder is None:  # a HEAD response: headers only
                if not more:
                    self.phase = _DONE
                return b""
            out = encoder.compress(data)
            if not more:
                out += encoder.finish()
                self._encoder = None
                self.phase = _DONE
            return out
        if phase is _HELD:
            return self._first(data, more)
        if phase is _DONE:
            if data:
                raise RuntimeError("The app sent body bytes after its response ended.")
            return b""
        raise RuntimeError("The app sent a body before the response start.")

    def release(self) -> None:
        """Abandon the response and free its encoder; safe to call more than once."""
        if self.phase is _COMPRESSING and self._encoder is not None:
            self._encoder.close()
            self._encoder = None
        self.phase = _DONE

    def _first(self, data: bytes, more: bool) -> bytes:
        length = self._length
        # A first piece exactly as long as the declared Content-Length is the whole body.
        if more and (length is None or len(data) != length):
            self._begin_stream()
            return self.body(data, more)
        size = len(data)
        if size and size >= self._minimum_size:
            encoded = self._codec.compress_whole(data)
            # Encoding can only add bytes to incompressible data: send it as it is then.
            if len(encoded) < size:
                exact = None if self._trailers else len(encoded)
                self.headers = _encoded_headers(self._app_headers, self._codec.coding.token, exact)
                self.phase = _DONE
                return encoded
        self.headers = _identity_headers(self._app_headers)
        self.phase = _IDENTITY if more else _DONE
        return data

    def _begin_stream(self) -> None:
        self._encoder = self._codec.encoder(self._length)
        self.headers = _encoded_headers(self._app_headers, self._codec.coding.token, None)
        self.phase = _COMPRESSING


def _identity_headers(headers: Headers) -> Headers:
    return merge_vary(headers, _VARY_NAMES)


def _encoded_headers(headers: Headers, token: bytes, length: int | None) -> Headers:
    out: Headers = []
    varies = False
    for name, value in headers:
        name = name.lower()
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
    if varies:
        return merge_vary(out, _VARY_NAMES)
    out.append(_VARY_FIELD)
    return out


def _no_transform(cache_control: Any, text: bool) -> bool:
    if text:
        cache_control = cache_control.encode("latin-1")
    # RFC 9111 §5.2.2.6: "The no-transform response directive indicates that an intermediary
    # (regardless of whether it implements a cache) MUST NOT transform the content."
    return any(
        directive.partition(b"=")[0].rstrip(b" \t").lower() == b"no-transform"
        for directive in split_list(cache_control)
    )


# --- requests -----------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True, kw_only=True)
class Rejection:
    """A response the middleware sends instead of calling the app."""

    status: int
    headers: Headers
    body: bytes


def _rejection(status: int, body: bytes, *extra: tuple[bytes, bytes]) -> Rejection:
    return Rejection(status=status, headers=[*plain_headers(body), *extra], body=body)


TOO_LARGE = _rejection(413, b"Request body too large.\n")
# RFC 9110 §15.5.16: "If the problem was caused by an unsupported content coding, the
# Accept-Encoding response header field ought to be used to indicate which (if any) content
# codings would have been accepted in the request."
UNSUPPORTED_ENCODING = _rejection(
    415,
    b"Unsupported request Content-Encoding.\n",
    (b"accept-encoding", b", ".join(codecs.decodable_tokens())),
)
CORRUPT_BODY = _rejection(400, b"Request body could not be decoded.\n")
# No client stacks more than two codings; a 415 would be wrong, as its Accept-Encoding would list
# the very codings the request used.
TOO_MANY_CODINGS = _rejection(400, b"Request Content-Encoding has too many codings.\n")
# RFC 9110 §15.5.14: 413 "indicates that the server is refusing to process a request because the
# request content is larger than the server is willing or able to process": here, in members.
TOO_MANY_MEMBERS = _rejection(413, b"Request body has too many gzip members or zstd frames.\n")


class RequestDecoder:
    """Decodes one request body, never holding or returning more than ``limit`` bytes.

    ``feed`` each received piece and ``end`` after the last; both return decoded bytes, or a
    Rejection to send instead of calling the app (413 past the limit or past
    ``codecs.MAX_MEMBERS`` gzip members or zstd frames, 400 for a corrupt or truncated stream).
    After a rejection every call returns the same rejection.

    The work is linear in the bytes received plus the bytes each coding of the chain puts out,
    each capped at ``limit``, at a cost per byte that no shape of body can raise much: the
    decoders take their input in bounded slices and count gzip members and zstd frames
    (``bench/decoding_bombs.py`` measures every shape known).
    """

    __slots__ = ("_chain", "_limit", "_produced", "_received", "rejection")

    def __init__(self, chain: list[Decoder], limit: int) -> None:
        self._chain = chain
        self._limit = limit
        self._produced = [0] * len(chain)
        self._received = 0
        self.rejection: Rejection | None = None

    def feed(self, data: bytes) -> bytes | Rejection:
        """The decoded bytes of one received piece, or a Rejection."""
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
        except LimitExceeded:
            return self._reject(TOO_LARGE)
        except TooManyMembers:
            return self._reject(TOO_MANY_MEMBERS)
        except DecodeError:
            return self._reject(CORRUPT_BODY)
        return data

    def end(self) -> bytes | Rejection:
        """Check that every coding ended with the body: b"" or a Rejection (400 if truncated)."""
        if self.rejection is not None:
            return self.rejection
        try:
            for decoder in self._chain:
                decoder.end()
        except DecodeError:
            return self._reject(CORRUPT_BODY)
        return b""

    def _reject(self, rejection: Rejection) -> Rejection:
        self.rejection = rejection
        self._chain = []
        return rejection


def decoded_request_headers(headers: Headers, length: int) -> Headers:
    """The request headers the app sees once the body is decoded: no Content-Encoding, and the
    decoded length."""
    out = without(headers, b"content-encoding", b"content-length")
    out.append((b"content-length", b"%d" % length))
    return out
