"""Properties of compression: Accept-Encoding negotiation, response encoding, request decoding.

For any Accept-Encoding value the chosen coding is the one RFC 9110 ranks first; for any body
and chunking the encoded response decodes to the same bytes with truthful headers; for any
request body the decoder never raises, never hands out more than its limit, and round-trips
what a client really encoded.
"""

from __future__ import annotations

import gzip
import zlib

import brotli
import zstandard
from hypothesis import given, settings
from hypothesis import strategies as st

from middleware.core.codecs import Coding, decoder_for
from middleware.core.compression import (
    HEAD_FIELDS,
    CompressionPolicy,
    Phase,
    RequestDecoder,
    ResponseCompression,
    choose_coding,
)
from middleware.core.headers import Headers, get_all, split_list
from middleware.core.responses import Response
from tests.core.strategies import binary

OFFERED = (Coding.ZSTD, Coding.BR, Coding.GZIP)
TOKENS = ["gzip", "br", "zstd", "identity", "*", "x-gzip", "deflate", "compress", "GZip", "BR"]
QVALUES = ["", ";q=0", ";q=0.5", ";q=0.500", ";q=1", ";q=1.0", ";q=0.001", ";q=0.999", ";q=.5"]
MEMBERS = st.lists(st.tuples(st.sampled_from(TOKENS), st.sampled_from(QVALUES)), max_size=7)
SEPARATORS = st.sampled_from([", ", ",", " , ", ",\t", ", , "])


def _weights(members: list[tuple[str, str]]) -> dict[str, float]:
    """The weight the client gave each token: the first listing wins, invalid ones drop out."""
    weights: dict[str, float] = {}
    for token, q in members:
        if q == ";q=.5":
            continue  # not a qvalue: the member is ignored
        name = token.lower()
        name = "gzip" if name == "x-gzip" else name
        weights.setdefault(name, float(q[3:]) if q else 1.0)
    return weights


def _effective(weights: dict[str, float], token: str) -> float | None:
    return weights.get(token, weights.get("*"))


def _header(members: list[tuple[str, str]], separator: str) -> bytes:
    return separator.join(token + q for token, q in members).encode()


def _start(
    policy: CompressionPolicy, status: int, headers: Headers, accept: bytes
) -> tuple[Headers | None, ResponseCompression | None]:
    """What an adapter does with a response start: the headers to send now (None: held until
    the first body piece) and the response, or None when its body goes out as it is."""
    response = policy.begin([(b"accept-encoding", accept)], head_request=False)
    sent = response.start(status, headers)
    if response.phase is Phase.IDENTITY:
        assert sent is not Phase.HELD
        return sent, None
    return (None if sent is Phase.HELD else sent), response


def _body(response: ResponseCompression | None, chunk: bytes, more: bool) -> bytes:
    return chunk if response is None else response.body(chunk, more)


@settings(max_examples=100)
@given(MEMBERS, SEPARATORS, st.permutations(OFFERED))
def test_the_client_s_highest_weight_wins_and_ties_go_to_the_server(
    members: list[tuple[str, str]], separator: str, offered: list[Coding]
) -> None:
    chosen = choose_coding(_header(members, separator), tuple(offered))
    weights = _weights(members)
    ranked = [(c, _effective(weights, c.value)) for c in offered]
    acceptable = [(c, w) for c, w in ranked if w is not None and w > 0]
    identity = _effective(weights, "identity")
    if chosen is None:
        # Nothing acceptable, or identity strictly preferred to every coding.
        best = max((w for _, w in acceptable), default=0.0)
        assert not acceptable or (identity is not None and identity > best)
        return
    weight = dict(ranked)[chosen]
    assert weight is not None and weight > 0
    for coding, other in acceptable:
        assert other <= weight
        if other == weight:
            # Equal weights: the server's order decides.
            assert offered.index(chosen) <= offered.index(coding)
    assert identity is None or identity <= weight


@given(MEMBERS)
def test_negotiation_ignores_case_and_empty_members(members: list[tuple[str, str]]) -> None:
    plain = _header(members, ", ")
    shouted = ", ,".join(
        "".join(ch.upper() if i % 2 else ch for i, ch in enumerate(token)) + q.upper()
        for token, q in members
    ).encode()
    assert choose_coding(shouted, OFFERED) == choose_coding(plain, OFFERED)


@settings(max_examples=120)
@given(binary(max_size=200))
def test_negotiation_never_raises_and_answers_an_offered_coding(value: bytes) -> None:
    chosen = choose_coding(value, OFFERED)
    assert chosen is None or chosen in OFFERED


@given(st.one_of(binary(max_size=80), MEMBERS.map(lambda m: _header(m, ", "))))
def test_the_policy_cache_agrees_with_the_negotiation(value: bytes) -> None:
    policy = CompressionPolicy.from_options()
    expected = choose_coding(value, OFFERED)
    for _ in range(2):  # the second answer comes from the cache
        codec = policy.negotiate(value)
        assert (None if codec is None else codec.coding) == expected


@given(binary(min_size=1, max_size=16), st.integers(1019, 1100))
def test_an_oversized_accept_encoding_is_not_read(pattern: bytes, size: int) -> None:
    value = b"gzip, " + (pattern * size)[:size]
    assert CompressionPolicy.from_options().negotiate(value) is None


# --- responses ----------------------------------------------------------------------------------


def _decode(coding: bytes, wire: bytes) -> bytes:
    if coding == b"gzip":
        return gzip.decompress(wire)
    if coding == b"br":
        return brotli.decompress(wire)
    assert coding == b"zstd"
    return zstandard.ZstdDecompressor().decompressobj().decompress(wire)


CHUNKS = st.lists(
    st.one_of(binary(max_size=300), binary(max_size=8).map(lambda b: b * 200)), max_size=5
)


@settings(max_examples=80, deadline=None)
@given(
    CHUNKS,
    st.sampled_from([b"gzip", b"br", b"zstd"]),
    st.booleans(),
    st.sampled_from(["messages", "iterable"]),
    st.sampled_from([b"text/plain", b"text/event-stream", b"application/json"]),
    st.lists(st.sampled_from([(b"etag", b'"v1"'), (b"vary", b"Cookie"), (b"accept-ranges", b"x")])),
)
def test_an_encoded_response_decodes_to_the_body_with_truthful_headers(
    chunks: list[bytes],
    coding: bytes,
    declare_length: bool,
    style: str,
    content_type: bytes,
    extra: Headers,
) -> None:
    body = b"".join(chunks)
    app_headers: Headers = [(b"content-type", content_type), *extra]
    if declare_length:
        app_headers.append((b"content-length", b"%d" % len(body)))
    policy = CompressionPolicy.from_options(minimum_size=1)
    sent, response = _start(policy, 200, app_headers, coding)
    wire: list[bytes] = []
    pieces = chunks or [b""]
    for index, chunk in enumerate(pieces):
        last = style == "messages" and index == len(pieces) - 1
        wire.append(_body(response, chunk, more=not last))
        sent = sent or (response and response.headers)
    if style == "iterable":
        wire.append(_body(response, b"", more=False))
        sent = sent or (response and response.headers)
    assert sent is not None
    data = b"".join(wire)

    encodings = get_all(sent, b"content-encoding")
    assert len(encodings) <= 1
    if encodings:
        assert encodings == [coding]
        assert _decode(coding, data) == body
        assert all(value.startswith(b"W/") for value in get_all(sent, b"etag"))
        assert not get_all(sent, b"accept-ranges")
    else:
        assert data == body
    lengths = get_all(sent, b"content-length")
    assert len(lengths) <= 1
    if lengths:
        assert int(lengths[0]) == len(data)
    vary = [member.lower() for value in get_all(sent, b"vary") for member in split_list(value)]
    assert vary.count(b"accept-encoding") == 1
    assert len(get_all(sent, b"vary")) == 1


@settings(max_examples=50)
@given(
    CHUNKS,
    st.sampled_from(
        [
            (204, []),
            (304, []),
            (206, [(b"content-range", b"bytes 0-1/2")]),
            (200, [(b"content-encoding", b"br")]),
            (200, [(b"cache-control", b"public, No-Transform")]),
            (200, [(b"content-type", b"image/png")]),
        ]
    ),
)
def test_responses_that_must_not_be_encoded_keep_their_bytes(
    chunks: list[bytes], case: tuple[int, Headers]
) -> None:
    status, extra = case
    headers = [(b"content-type", b"text/plain"), *extra]
    if any(name == b"content-type" for name, _ in extra):
        headers = extra
    sent, response = _start(
        CompressionPolicy.from_options(minimum_size=0), status, headers, b"gzip, br, zstd"
    )
    assert sent is not None and response is None  # decided at once: the body as it is
    assert get_all(sent, b"content-encoding") == get_all(headers, b"content-encoding")


# --- request bodies -----------------------------------------------------------------------------


def _encode(coding: bytes, body: bytes) -> bytes:
    if coding == b"gzip":
        return gzip.compress(body)
    if coding == b"deflate":
        return zlib.compress(body)
    if coding == b"br":
        return brotli.compress(body)
    return zstandard.ZstdCompressor().compress(body)


def _split(data: bytes, cuts: list[int]) -> list[bytes]:
    points = sorted({cut % (len(data) + 1) for cut in cuts})
    edges = [0, *points, len(data)]
    return [data[a:b] for a, b in zip(edges, edges[1:], strict=False)]


CODINGS = st.sampled_from([b"gzip", b"deflate", b"br", b"zstd"])


def _decoder(coding: bytes, limit: int) -> RequestDecoder:
    decoder = decoder_for(coding)
    assert decoder is not None
    return RequestDecoder([decoder], limit)


def _drain(decoder: RequestDecoder, pieces: list[bytes]) -> tuple[bytes, Response | None]:
    out: list[bytes] = []
    for index, piece in enumerate(pieces or [b""]):
        result = decoder.feed(piece, more=index < len(pieces) - 1)
        if isinstance(result, Response):
            return b"".join(out), result
        out.append(result)
    return b"".join(out), None


@settings(max_examples=120)
@given(CODINGS, binary(max_size=400), st.lists(st.integers(0, 400), max_size=4))
def test_request_decoding_never_raises_and_never_exceeds_its_limit(
    coding: bytes, junk: bytes, cuts: list[int]
) -> None:
    decoded, rejection = _drain(_decoder(coding, 256), _split(junk, cuts))
    assert len(decoded) <= 256
    if rejection is not None:
        assert rejection.status in (400, 413)


@settings(max_examples=100)
@given(CODINGS, binary(max_size=600), st.lists(st.integers(0, 10_000), max_size=4))
def test_request_decoding_round_trips_whatever_the_chunking(
    coding: bytes, body: bytes, cuts: list[int]
) -> None:
    decoded, rejection = _drain(_decoder(coding, 600), _split(_encode(coding, body), cuts))
    assert rejection is None
    assert decoded == body


@settings(max_examples=30, deadline=None)
@given(CODINGS, st.integers(1, 50_000), st.sampled_from([b"\0", b"A", b"ab"]))
def test_a_bomb_past_the_limit_is_refused_without_expanding(
    coding: bytes, excess: int, filler: bytes
) -> None:
    limit = 4096
    body = (filler * (limit + excess))[: limit + excess]
    decoded, rejection = _drain(_decoder(coding, limit), [_encode(coding, body)])
    assert rejection is not None and rejection.status == 413
    assert len(decoded) <= limit


MEDIA = st.sampled_from(
    ["text/html", "application/json", "image/svg+xml", "application/vnd.api+json", "image/png",
     "application/octet-stream", "text/event-stream", "font/woff2", "application/x-ndjson"]
)  # fmt: skip


def _held(content_type: bytes, cache_control: bytes | None = None) -> bool:
    """Whether the compressor takes the response on (holds it to encode), or leaves it alone."""
    headers = [(b"content-type", content_type)]
    if cache_control is not None:
        headers.append((b"cache-control", cache_control))
    _, response = _start(CompressionPolicy.from_options(), 200, headers, b"br")
    return response is not None


@settings(max_examples=80)
@given(MEDIA, st.booleans(), st.sampled_from(["", "; charset=utf-8", ";q=1", " ; a=b"]))
def test_a_media_type_is_classified_whatever_its_case_and_parameters(
    media: str, shout: bool, parameters: str
) -> None:
    variant = (media.upper() if shout else media) + parameters
    assert _held(variant.encode()) == _held(media.encode())


@settings(max_examples=80)
@given(
    st.lists(st.sampled_from(["max-age=60", "public", "no-cache", "private", "s-maxage=1"])),
    st.sampled_from([None, "no-transform", "No-Transform", " no-transform ", "no-transform=1"]),
)
def test_no_transform_anywhere_in_cache_control_keeps_the_body_unencoded(
    directives: list[str], no_transform: str | None
) -> None:
    items = directives + ([no_transform] if no_transform is not None else [])
    value = ", ".join(items).encode() if items else None
    assert _held(b"text/html", value) is (no_transform is None)


# --- the head left as it is ---------------------------------------------------------------------

NAMES = st.sampled_from(
    [b"content-type", b"content-length", b"cache-control", b"vary", b"content-encoding",
     b"content-range", b"etag", b"accept-ranges", b"x-other", b"set-cookie"]
)  # fmt: skip
VALUES = st.sampled_from(
    [b"text/html; charset=utf-8", b"image/png", b"text/event-stream", b"13", b"5000", b"0",
     b"public", b"no-transform", b"Accept-Encoding", b"Cookie", b"*", b"gzip", b'"v1"', b"x"]
)  # fmt: skip


@settings(max_examples=300)
@given(
    st.sampled_from([103, 200, 204, 206, 304, 404]),
    st.lists(st.tuples(NAMES, VALUES), max_size=7),
    st.sampled_from([b"gzip", b"identity", b"br;q=0.5, gzip"]),
)
def test_a_head_left_as_it_is_is_decided_by_the_fields_it_reads(
    status: int, headers: Headers, accept: bytes
) -> None:
    # The WSGI adapter hands left_as_is only HEAD_FIELDS; the answer must be the same, with the
    # same fields appended, and ResponseCompression.start must agree with it.
    policy = CompressionPolicy.from_options()
    read = [(name, value) for name, value in headers if name in HEAD_FIELDS]
    whole = policy.left_as_is(status, headers)
    partial = policy.left_as_is(status, read)
    assert (whole is None) == (partial is None)
    if whole is not None and partial is not None and partial[: len(read)] == read:
        assert whole[: len(headers)] == headers
        assert whole[len(headers) :] == partial[len(read) :]
    response = policy.begin([(b"accept-encoding", accept)], head_request=False)
    started = response.start(status, headers)
    if whole is not None:
        assert started == whole and response.phase is Phase.IDENTITY
