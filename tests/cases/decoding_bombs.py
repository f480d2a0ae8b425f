"""Request bodies that make a decoder work hard for little input (issue 16), built to a size.

Each builder returns a stream in one coding, about ``size`` bytes long, whose every few bytes
cost the decoder a new member, frame or block while decoding to little or nothing. The real
encoders write them where they can: the stdlib's gzip (empty members), zlib, zstandard and brotli
flushing after every byte (tiny blocks; after the first, each flush writes the same bytes, so the
rest is that piece repeated), zstandard (empty frames). No encoder writes zstd skippable frames
or brotli metadata meta-blocks, so those bytes are made here from their RFCs.

    body = brotli.compress(gzip_empty_members(10 << 20), quality=11)   # 41 bytes
    # sent with "Content-Encoding: gzip, br": 10 MiB of empty gzip members to decode

``SHAPES`` names them with their coding; the case tables (``tests/cases/compression.py``) and
``bench/decoding_bombs.py`` use them, alone or inside ``br`` (``in_br``), the chain that lets a
few bytes on the wire carry 10 MiB of them.
"""

from __future__ import annotations

import gzip
import zlib
from collections.abc import Callable

import brotli
import zstandard

MiB = 1 << 20


def _repeat(first: bytes, piece: bytes, again: bytes, tail: bytes, size: int) -> bytes:
    """``first``, then ``piece`` repeated to about ``size`` bytes, then ``tail``."""
    assert again == piece, "the encoder's flushes stopped repeating"
    count = max(0, size - len(first) - len(tail)) // len(piece)
    return first + piece * count + tail


def gzip_empty_members(size: int) -> bytes:
    """gzip members of an empty body, 20 bytes each (RFC 1952 §2.2 allows any number)."""
    member = gzip.compress(b"", mtime=0)
    return member * (size // len(member))


def deflate_tiny_blocks(size: int) -> bytes:
    """A zlib stream ("deflate") of one-byte blocks, each ended by a full flush: 7 bytes per
    decoded byte."""
    encoder = zlib.compressobj(6, zlib.DEFLATED, zlib.MAX_WBITS)
    first, piece, again = [
        encoder.compress(b"a") + encoder.flush(zlib.Z_FULL_FLUSH) for _ in range(3)
    ]
    # The end: the empty last block a final flush writes, and the Adler-32 of what was encoded.
    tail_size = 6
    stream = _repeat(first, piece, again, b"", size - tail_size)
    decoded = 1 + (len(stream) - len(first)) // len(piece)
    return stream + b"\x03\x00" + zlib.adler32(b"a" * decoded).to_bytes(4, "big")


def zstd_tiny_blocks(size: int) -> bytes:
    """One zstd frame of one-byte blocks (a block flush after every byte): 4 bytes per byte."""
    encoder = zstandard.ZstdCompressor().compressobj()
    flush = zstandard.COMPRESSOBJ_FLUSH_BLOCK
    first, piece, again = [encoder.compress(b"a") + encoder.flush(flush) for _ in range(3)]
    return _repeat(first, piece, again, encoder.flush(), size)


def brotli_tiny_blocks(size: int) -> bytes:
    """One brotli stream of one-byte meta-blocks (a flush after every byte): 4 bytes per byte."""
    encoder = brotli.Compressor(quality=4)
    first, piece, again = [encoder.process(b"a") + encoder.flush() for _ in range(3)]
    return _repeat(first, piece, again, encoder.finish(), size)


def zstd_empty_frames(size: int) -> bytes:
    """zstd frames of an empty body, 9 bytes each (RFC 8878 §3: one or more frames)."""
    frame = zstandard.ZstdCompressor().compress(b"")
    return frame * (size // len(frame))


# RFC 8878 §3.1.2: "Magic_Number: 4 Bytes, little-endian format. Value: 0x184D2A5?" then
# "Frame_Size: This is the size, in bytes, of the following User_Data". Decoders skip them.
_SKIPPABLE_FRAME = (0x184D2A50).to_bytes(4, "little") + (0).to_bytes(4, "little")


def zstd_skippable_frames(size: int) -> bytes:
    """Empty skippable zstd frames, 8 bytes each."""
    return _SKIPPABLE_FRAME * (size // len(_SKIPPABLE_FRAME))


# RFC 7932 §9.2, packed from the least significant bit. A metadata meta-block is ISLAST (1 bit,
# 0), MNIBBLES (2 bits, 3: "MNIBBLES is 0", metadata), a reserved bit (0) and MSKIPBYTES (2 bits,
# 0: no metadata bytes), padded with zeros to the byte: 0b00000110. The stream opens with WBITS
# (1 bit, 0: a 64 KiB window) in front of the first one, and ends with ISLAST=1, ISLASTEMPTY=1.
_BROTLI_FIRST_METADATA = 0b0000_1100
_BROTLI_METADATA = 0b0000_0110
_BROTLI_LAST_EMPTY = 0b0000_0011


def brotli_metadata_blocks(size: int) -> bytes:
    """A brotli stream of empty metadata meta-blocks, one byte each; it decodes to nothing."""
    more = max(0, size - 2)
    return (
        bytes([_BROTLI_FIRST_METADATA])
        + bytes([_BROTLI_METADATA]) * more
        + bytes([_BROTLI_LAST_EMPTY])
    )


SHAPES: dict[str, tuple[str, Callable[[int], bytes]]] = {
    "gzip empty members": ("gzip", gzip_empty_members),
    "deflate tiny blocks": ("deflate", deflate_tiny_blocks),
    "zstd tiny blocks": ("zstd", zstd_tiny_blocks),
    "zstd empty frames": ("zstd", zstd_empty_frames),
    "zstd skippable frames": ("zstd", zstd_skippable_frames),
    "br tiny blocks": ("br", brotli_tiny_blocks),
    "br metadata blocks": ("br", brotli_metadata_blocks),
}
"""Bomb shape -> (its coding, its builder)."""


def in_br(stream: bytes, quality: int = 5) -> bytes:
    """``stream`` encoded once more with brotli: a few dozen bytes for any of the shapes."""
    return brotli.compress(stream, quality=quality)  # type: ignore[no-any-return]
