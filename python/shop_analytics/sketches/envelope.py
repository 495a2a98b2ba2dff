"""The versioned byte envelope every stored sketch is wrapped in.

Layout (little-endian), 32-byte header then payload::

    0   4s   magic   b"SASK" (shop_analytics sketch)
    4   2s   kind    b"BF" Bloom, b"HL" HyperLogLog, b"MG" Misra-Gries, b"RF" reference
    6   u16  version format version of that kind
    8   u64  length  payload length in bytes
    16  16s  digest  BLAKE2b-128 of the payload

The digest detects corruption and doubles as a cheap identity: two blobs
with the same header are the same sketch, which lets caches avoid hashing
large payloads again.
"""

from __future__ import annotations

import hashlib
import struct
from dataclasses import dataclass
from typing import Any, BinaryIO

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

MAGIC = b"SASK"
HEADER = struct.Struct("<4s2sHQ16s")
HEADER_SIZE = HEADER.size


class SketchFormatError(ValueError):
    """Bytes that are not a valid serialized sketch of the expected kind and version."""


@dataclass(frozen=True)
class Header:
    """Decoded envelope header."""

    kind: bytes
    version: int
    length: int
    digest: bytes


def digest(payload: bytes | memoryview) -> bytes:
    """BLAKE2b-128 digest used by the envelope."""
    return hashlib.blake2b(payload, digest_size=16).digest()


def wrap(kind: bytes, version: int, payload: bytes) -> bytes:
    """Prefix a payload with the envelope header."""
    return HEADER.pack(MAGIC, kind, version, len(payload), digest(payload)) + payload


def wrap_parts(kind: bytes, version: int, parts: list[bytes | memoryview]) -> bytes:
    """wrap(kind, version, b"".join(parts)) with one copy of the parts instead of three.

    For large payloads (a Bloom filter's words): the digest is computed part by
    part and the blob is assembled by a single join.
    """
    header, views = _header_and_views(kind, version, parts)
    return b"".join([header, *views])


def write_parts(out: BinaryIO, kind: bytes, version: int, parts: list[bytes | memoryview]) -> None:
    """Write wrap_parts(kind, version, parts) to `out` without assembling it in memory."""
    header, views = _header_and_views(kind, version, parts)
    out.write(header)
    for v in views:
        out.write(v)


def _header_and_views(kind: bytes, version: int, parts: list[bytes | memoryview]) -> tuple[bytes, list[memoryview]]:
    views = [memoryview(p).cast("B") for p in parts]
    h = hashlib.blake2b(digest_size=16)
    for v in views:
        h.update(v)
    length = sum(v.nbytes for v in views)
    return HEADER.pack(MAGIC, kind, version, length, h.digest()), views


def read_header(blob: bytes | memoryview, kind: bytes, versions: tuple[int, ...]) -> Header:
    """Decode and check the header only (no payload digest check)."""
    if not isinstance(blob, (bytes, bytearray, memoryview)):
        raise SketchFormatError(f"expected bytes for a {kind.decode()} sketch, got {type(blob).__name__}")
    if len(blob) < HEADER_SIZE:
        raise SketchFormatError(
            f"not a shop_analytics sketch: {len(blob)} bytes is shorter than the {HEADER_SIZE}-byte header"
        )
    magic, got_kind, version, length, dig = HEADER.unpack_from(blob, 0)
    if magic != MAGIC:
        raise SketchFormatError(f"not a shop_analytics sketch: bad magic {bytes(magic)!r}, expected {MAGIC!r}")
    if got_kind != kind:
        raise SketchFormatError(
            f"wrong sketch kind: blob holds {got_kind.decode(errors='replace')!r}, expected {kind.decode()!r}"
        )
    if version not in versions:
        raise SketchFormatError(
            f"unsupported {kind.decode()} sketch version {version}; this code reads versions {list(versions)}"
        )
    if len(blob) - HEADER_SIZE != length:
        raise SketchFormatError(
            f"truncated or padded {kind.decode()} sketch: header says {length} payload bytes, "
            f"found {len(blob) - HEADER_SIZE}"
        )
    return Header(got_kind, version, length, bytes(dig))


def unwrap(blob: bytes | memoryview, kind: bytes, versions: tuple[int, ...]) -> tuple[int, memoryview]:
    """Check the envelope (incl. digest) and return (version, payload view)."""
    header = read_header(blob, kind, versions)
    payload = memoryview(blob)[HEADER_SIZE:]
    if digest(payload) != header.digest:
        raise SketchFormatError(f"corrupt {kind.decode()} sketch: payload digest mismatch")
    return header.version, payload


def unwrap_params(
    blob: bytes | memoryview, kind: bytes, versions: tuple[int, ...], params: struct.Struct
) -> tuple[tuple[Any, ...], memoryview]:
    """unwrap, then unpack the fixed parameter block that starts the payload: (parameters, payload view)."""
    _, payload = unwrap(blob, kind, versions)
    if len(payload) < params.size:
        raise SketchFormatError(f"corrupt {kind.decode()} sketch: payload shorter than its parameter block")
    return params.unpack_from(payload, 0), payload


def wrap_many(kind: bytes, version: int, payloads: np.ndarray, offsets: np.ndarray) -> pa.Array:
    """Envelope many payloads at once: payload i is payloads[offsets[i]:offsets[i+1]].

    Returns an Arrow binary array of the wrapped blobs (large_binary above
    2 GiB). Only the per-blob digest is computed in a Python loop.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    n = offsets.size - 1
    lengths = np.diff(offsets)
    view = np.ascontiguousarray(payloads, dtype=np.uint8).data
    digests = b"".join(
        hashlib.blake2b(view[s:e], digest_size=16).digest()
        for s, e in zip(offsets[:-1].tolist(), offsets[1:].tolist(), strict=True)
    )
    header = np.zeros(
        n, dtype=np.dtype([("magic", "S4"), ("kind", "S2"), ("version", "<u2"), ("length", "<u8"), ("digest", "V16")])
    )
    header["magic"], header["kind"], header["version"], header["length"] = MAGIC, kind, version, lengths
    header["digest"] = np.frombuffer(digests, dtype="V16")
    large = int(offsets[-1] - offsets[0]) + n * HEADER_SIZE >= 2**31
    typ = pa.large_binary() if large else pa.binary()
    heads = pa.FixedSizeBinaryArray.from_buffers(pa.binary(HEADER_SIZE), n, [None, pa.py_buffer(header)]).cast(typ)
    # Arrow concatenates header and payload element-wise: no per-byte index arrays.
    body = pa.Array.from_buffers(
        pa.large_binary(),
        n,
        [
            None,
            pa.py_buffer(offsets - offsets[0]),
            pa.py_buffer(np.ascontiguousarray(payloads)[offsets[0] : offsets[-1]]),
        ],
    )
    return pc.binary_join_element_wise(heads, body.cast(typ), pa.scalar(b"", typ))
