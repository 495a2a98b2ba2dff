"""Stable 64-bit key hashing: XXH64 (seed 0 by default), vectorized in NumPy.

Why XXH64: it is a published, frozen algorithm with public test vectors, so
a hash computed here today equals the one computed on another machine, in
another process or by another language's xxhash library years from now.
Stored sketches (Bloom filters, HLL registers) depend on that.

Key encodings (the contract for every sketch in this package):

- integer keys (any NumPy/Arrow integer type) are widened to int64 and
  hashed as XXH64 of their 8 bytes in little-endian two's complement, so
  ``hash_int64(42) == xxh64((42).to_bytes(8, "little"))``;
- string keys are hashed as XXH64 of their UTF-8 bytes; binary keys as
  XXH64 of their bytes.

An integer and its decimal string therefore hash differently (42 vs "42").
Results are ``uint64``; SQL-facing code reinterprets them as signed BIGINT.
"""

from __future__ import annotations

from typing import TypeAlias

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

P1 = np.uint64(0x9E3779B185EBCA87)
P2 = np.uint64(0xC2B2AE3D27D4EB4F)
P3 = np.uint64(0x165667B19E3779F9)
P4 = np.uint64(0x85EBCA77C2B2AE63)
P5 = np.uint64(0x27D4EB2F165667C5)
_U64 = np.uint64

# Bounds the temporaries of the integer path so they stay in cache.
_INT_BLOCK = 1 << 16


def _rotl(x: np.ndarray, r: int) -> np.ndarray:
    return (x << _U64(r)) | (x >> _U64(64 - r))


def _round(acc: np.ndarray, lane: np.ndarray) -> np.ndarray:
    acc = acc + lane * P2
    return _rotl(acc, 31) * P1


def _merge_round(acc: np.ndarray, val: np.ndarray) -> np.ndarray:
    acc = acc ^ _round(np.zeros_like(val), val)
    return acc * P1 + P4


def _avalanche(h: np.ndarray) -> np.ndarray:
    h = h ^ (h >> _U64(33))
    h = h * P2
    h = h ^ (h >> _U64(29))
    h = h * P3
    out: np.ndarray = h ^ (h >> _U64(32))
    return out


def _hash_int64_block(x: np.ndarray, base: np.uint64, out: np.ndarray) -> None:
    # XXH64 of exactly 8 bytes: no stripe loop, one 8-byte lane, avalanche.
    # In-place arithmetic keeps allocations to one scratch array per block.
    k = np.multiply(x, P2, out=out)
    t = k << _U64(31)
    k >>= _U64(33)
    k |= t
    k *= P1
    k ^= base
    t = k << _U64(27)
    k >>= _U64(37)
    k |= t
    k *= P1
    k += P4
    t = k >> _U64(33)
    k ^= t
    k *= P2
    t = k >> _U64(29)
    k ^= t
    k *= P3
    t = k >> _U64(32)
    k ^= t


def hash_int64(values: np.ndarray, seed: int = 0) -> np.ndarray:
    """XXH64 of each int64 value's 8 little-endian bytes, as uint64."""
    x = np.ascontiguousarray(values, dtype=np.int64).view(np.uint64)
    base = _U64((seed + int(P5) + 8) & 0xFFFFFFFFFFFFFFFF)
    out = np.empty(x.shape, dtype=np.uint64)
    flat_in, flat_out = x.reshape(-1), out.reshape(-1)
    with np.errstate(over="ignore"):
        for start in range(0, flat_in.size, _INT_BLOCK):
            stop = start + _INT_BLOCK
            _hash_int64_block(flat_in[start:stop], base, flat_out[start:stop])
    return out


def _read64(buf: np.ndarray, pos: np.ndarray) -> np.ndarray:
    idx = pos[:, None] + np.arange(8, dtype=np.int64)
    return np.ascontiguousarray(buf[idx]).view("<u8").reshape(-1)


def _read32(buf: np.ndarray, pos: np.ndarray) -> np.ndarray:
    idx = pos[:, None] + np.arange(4, dtype=np.int64)
    return np.ascontiguousarray(buf[idx]).view("<u4").reshape(-1).astype(np.uint64)


def hash_bytes(data: np.ndarray, offsets: np.ndarray, seed: int = 0) -> np.ndarray:
    """XXH64 of each byte string data[offsets[i]:offsets[i+1]], as uint64.

    Vectorized across strings: each step of the algorithm runs once over all
    strings that still have input left, so the cost is O(total bytes / 8)
    NumPy element operations plus O(max length / 32) Python iterations.
    """
    offsets = np.asarray(offsets, dtype=np.int64)
    n = offsets.size - 1
    starts = offsets[:-1]
    lengths = offsets[1:] - starts
    # Zero padding lets the gathers read a full word past the last string.
    buf = np.concatenate([np.asarray(data, dtype=np.uint8), np.zeros(8, dtype=np.uint8)])
    s = _U64(seed & 0xFFFFFFFFFFFFFFFF)
    with np.errstate(over="ignore"):
        h = np.full(n, s + P5, dtype=np.uint64)
        pos = starts.copy()
        nstripes = lengths // 32
        long_idx = np.flatnonzero(nstripes > 0)
        if long_idx.size:
            # Sorting by stripe count makes the active set at step j a prefix.
            order = long_idx[np.argsort(-nstripes[long_idx], kind="stable")]
            counts = nstripes[order]
            m = order.size
            v1 = np.full(m, s + P1 + P2, dtype=np.uint64)
            v2 = np.full(m, s + P2, dtype=np.uint64)
            v3 = np.full(m, s, dtype=np.uint64)
            v4 = np.full(m, s - P1, dtype=np.uint64)
            p = starts[order].copy()
            active = m
            for j in range(int(counts[0])):
                while active > 0 and counts[active - 1] <= j:
                    active -= 1
                a = slice(0, active)
                pa_ = p[a]
                v1[a] = _round(v1[a], _read64(buf, pa_))
                v2[a] = _round(v2[a], _read64(buf, pa_ + 8))
                v3[a] = _round(v3[a], _read64(buf, pa_ + 16))
                v4[a] = _round(v4[a], _read64(buf, pa_ + 24))
                p[a] += 32
            acc = _rotl(v1, 1) + _rotl(v2, 7) + _rotl(v3, 12) + _rotl(v4, 18)
            for v in (v1, v2, v3, v4):
                acc = _merge_round(acc, v)
            h[order] = acc
            pos[order] = p
        h += lengths.astype(np.uint64)
        remaining = offsets[1:] - pos
        for _ in range(3):
            sel = np.flatnonzero(remaining >= 8)
            if sel.size == 0:
                break
            k1 = _round(np.zeros(sel.size, dtype=np.uint64), _read64(buf, pos[sel]))
            h[sel] = _rotl(h[sel] ^ k1, 27) * P1 + P4
            pos[sel] += 8
            remaining[sel] -= 8
        sel = np.flatnonzero(remaining >= 4)
        if sel.size:
            h[sel] = _rotl(h[sel] ^ (_read32(buf, pos[sel]) * P1), 23) * P2 + P3
            pos[sel] += 4
            remaining[sel] -= 4
        for _ in range(3):
            sel = np.flatnonzero(remaining >= 1)
            if sel.size == 0:
                break
            byte = buf[pos[sel]].astype(np.uint64)
            h[sel] = _rotl(h[sel] ^ (byte * P5), 11) * P1
            pos[sel] += 1
            remaining[sel] -= 1
        return _avalanche(h)


def xxh64(data: bytes, seed: int = 0) -> int:
    """XXH64 of one byte string, as a Python int (reference/convenience path)."""
    arr = np.frombuffer(data, dtype=np.uint8)
    return int(hash_bytes(arr, np.array([0, arr.size], dtype=np.int64), seed)[0])


def _binary_hash(arr: pa.Array, seed: int) -> np.ndarray:
    if pa.types.is_string(arr.type) or pa.types.is_string_view(arr.type):
        arr = arr.cast(pa.large_string()) if not pa.types.is_large_string(arr.type) else arr
    elif pa.types.is_binary(arr.type) or pa.types.is_binary_view(arr.type) or pa.types.is_fixed_size_binary(arr.type):
        arr = arr.cast(pa.large_binary())
    # Nulls become empty strings here; callers mask them with the validity.
    if arr.null_count:
        arr = pc.fill_null(arr, pa.scalar(b"" if pa.types.is_large_binary(arr.type) else "", arr.type))
    _, off_buf, data_buf = arr.buffers()
    offsets = np.frombuffer(off_buf, dtype=np.int64)[arr.offset : arr.offset + len(arr) + 1]
    data = np.frombuffer(data_buf, dtype=np.uint8) if data_buf is not None else np.zeros(0, np.uint8)
    lo, hi = int(offsets[0]), int(offsets[-1])
    return hash_bytes(data[lo:hi], offsets - lo, seed)


KeyArray: TypeAlias = "pa.Array | pa.ChunkedArray | np.ndarray"


def int64_values(keys: pa.Array) -> np.ndarray:
    """The values buffer of a non-empty int64 Arrow array, zero-copy.

    Slots under nulls hold arbitrary values: callers discard their hashes
    with the validity mask.
    """
    return np.frombuffer(keys.buffers()[1], dtype=np.int64, count=len(keys), offset=8 * keys.offset)


def hash_keys(keys: KeyArray, seed: int = 0) -> tuple[np.ndarray, np.ndarray | None]:
    """Hash a column of int or string keys; returns (uint64 hashes, validity mask or None).

    The validity mask is None when there are no nulls; otherwise hashes at
    null positions are meaningless and must be ignored by the caller.
    """
    if isinstance(keys, pa.ChunkedArray):
        keys = keys.combine_chunks() if keys.num_chunks != 1 else keys.chunk(0)
    if isinstance(keys, np.ndarray):
        if keys.dtype.kind in "iu":
            return hash_int64(keys.astype(np.int64, copy=False), seed), None
        if keys.dtype.kind in "USO":
            keys = pa.array(keys, type=pa.large_string() if keys.dtype.kind != "S" else pa.large_binary())
        elif keys.dtype.kind == "b":
            return hash_int64(keys.astype(np.int64), seed), None
        else:
            raise TypeError(f"cannot hash keys of NumPy dtype {keys.dtype}; use integers or strings")
    if not isinstance(keys, pa.Array):
        raise TypeError(f"keys must be a NumPy or Arrow array, got {type(keys).__name__}")
    if pa.types.is_dictionary(keys.type):
        keys = keys.dictionary_decode()
    valid = None
    if keys.null_count:
        valid = keys.is_valid().to_numpy(zero_copy_only=False)
    t = keys.type
    if t == pa.int64() and len(keys):
        return hash_int64(int64_values(keys), seed), valid
    if pa.types.is_integer(t) or pa.types.is_boolean(t):
        ints = pc.fill_null(keys, 0).cast(pa.int64()) if keys.null_count else keys.cast(pa.int64())
        return hash_int64(ints.to_numpy(zero_copy_only=False), seed), valid
    if pa.types.is_date(t) or pa.types.is_timestamp(t):
        ints = keys.view(pa.int32() if pa.types.is_date32(t) else pa.int64())
        ints = pc.fill_null(ints, 0).cast(pa.int64())
        return hash_int64(ints.to_numpy(zero_copy_only=False), seed), valid
    if (
        pa.types.is_string(t)
        or pa.types.is_large_string(t)
        or pa.types.is_string_view(t)
        or pa.types.is_binary(t)
        or pa.types.is_large_binary(t)
        or pa.types.is_binary_view(t)
        or pa.types.is_fixed_size_binary(t)
    ):
        return _binary_hash(keys, seed), valid
    raise TypeError(f"cannot hash keys of Arrow type {t}; use integer, string or binary keys")
