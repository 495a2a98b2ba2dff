"""HyperLogLog distinct counter, vectorized, with Ertl's improved estimator.

- 2**p registers (p in 4..18, default 12 = 4096 registers); the top p bits of
  the 64-bit XXH64 key hash pick the register, and the register keeps the
  maximum of ``1 + trailing zeros`` of the other 64-p bits (capped at 65-p).
- Estimate: Ertl (2017), "New cardinality estimation algorithms for
  HyperLogLog sketches", improved raw estimator. It needs no empirical bias
  tables and is unbiased from 0 to far beyond 2**40 with a 64-bit hash.
- Error bound: relative standard error about ``1.04 / sqrt(2**p)``
  (1.6% at p=12, 0.8% at p=14); |error| < 3 RSE with ~99.7% probability.
  Small cardinalities (n << 2**p) are nearly exact (linear counting regime).
- Merge is the element-wise register maximum, which equals building on the
  concatenated input; it requires equal (p, seed).

Serialized form (kind HL, version 1): p, seed, a layout byte, then either the
dense register bytes or, when fewer than 1/4 of registers are set, a sorted
sparse list of uint32 ``register_index << 8 | value``. Daily per-item sketches
are mostly tiny, so the sparse layout keeps BLOB columns small.
"""

from __future__ import annotations

import math
import struct

import numpy as np
import pyarrow as pa

from shop_analytics.sketches.envelope import SketchFormatError, unwrap_params, wrap, wrap_many
from shop_analytics.sketches.hashing import KeyArray, hash_keys

KIND = b"HL"
VERSION = 1
MIN_P, MAX_P = 4, 18
_PARAMS = struct.Struct("<BBxxQI")  # p, layout, pad, seed, n_entries (sparse) or 0
_DENSE, _SPARSE = 0, 1


def check_p(p: int) -> int:
    """Validate the precision parameter."""
    if not isinstance(p, (int, np.integer)) or not MIN_P <= int(p) <= MAX_P:
        raise ValueError(f"HLL precision p must be an integer in [{MIN_P}, {MAX_P}], got {p!r}")
    return int(p)


def relative_standard_error(p: int) -> float:
    """Stated relative standard error of the estimate at precision p."""
    return 1.04 / math.sqrt(1 << check_p(p))


def bucket_and_rho(hashes: np.ndarray, p: int) -> tuple[np.ndarray, np.ndarray]:
    """Register index (int64) and register value (uint8, 1..65-p) for each hash."""
    q = 64 - p
    hashes = np.asarray(hashes, dtype=np.uint64)
    idx = (hashes >> np.uint64(q)).view(np.int64)
    # A sentinel bit at position q caps the run length at q (value q+1).
    rest = hashes & np.uint64((1 << q) - 1)
    rest |= np.uint64(1 << q)
    # (rest & -rest) - 1 has exactly "trailing zeros of rest" bits set.
    low = np.negative(rest)
    low &= rest
    low -= np.uint64(1)
    rho = np.bitwise_count(low)
    rho += np.uint8(1)
    return idx, rho


def _sigma(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64).copy()
    out = x.copy()
    y = np.ones_like(x)
    inf = x >= 1.0
    for _ in range(80):
        x = x * x
        prev = out
        out = out + x * y
        y = y + y
        if np.array_equal(out, prev):
            break
    out[inf] = np.inf
    return out


def _tau(x: np.ndarray) -> np.ndarray:
    x = x.astype(np.float64).copy()
    edge = (x <= 0.0) | (x >= 1.0)
    out = 1.0 - x
    y = np.ones_like(x)
    for _ in range(80):
        x = np.sqrt(x)
        prev = out
        y = y * 0.5
        out = out - (1.0 - x) ** 2 * y
        if np.array_equal(out, prev):
            break
    out = out / 3.0
    out[edge] = 0.0
    return out


def estimate_from_histograms(hist: np.ndarray, p: int) -> np.ndarray:
    """Ertl's improved estimate per row of a (rows, 66-p) register-value histogram."""
    hist = np.atleast_2d(np.asarray(hist, dtype=np.float64))
    m = float(1 << p)
    q = 64 - p
    if hist.shape[1] != q + 2:
        raise ValueError(f"histogram must have {q + 2} columns for p={p}, got {hist.shape[1]}")
    z = m * _tau(1.0 - hist[:, q + 1] / m)
    for k in range(q, 0, -1):
        z = 0.5 * (z + hist[:, k])
    z = z + m * _sigma(hist[:, 0] / m)
    alpha_inf = 1.0 / (2.0 * math.log(2.0))
    with np.errstate(divide="ignore"):
        return np.where(np.isinf(z), 0.0, alpha_inf * m * m / z)


class HyperLogLog:
    """Mergeable distinct counter; see module docstring for the error bound."""

    __slots__ = ("p", "registers", "seed")

    def __init__(self, p: int = 12, seed: int = 0) -> None:
        self.p = check_p(p)
        if not 0 <= seed < 1 << 64:
            raise ValueError(f"seed must be a uint64, got {seed}")
        self.seed = int(seed)
        self.registers = np.zeros(1 << self.p, dtype=np.uint8)

    def update_hashes(self, hashes: np.ndarray) -> None:
        """Add keys given by their uint64 XXH64 hashes."""
        if len(hashes) == 0:
            return
        idx, rho = bucket_and_rho(hashes, self.p)
        # Once the registers fill up, few keys raise one: scatter only those.
        rises = rho > self.registers[idx]
        if rises.any():
            np.maximum.at(self.registers, idx[rises], rho[rises])

    def update(self, keys: KeyArray) -> None:
        """Add int or string keys (NumPy/Arrow array); nulls are skipped."""
        hashes, valid = hash_keys(keys, self.seed)
        self.update_hashes(hashes if valid is None else hashes[valid])

    def estimate(self) -> float:
        """Estimated number of distinct keys added."""
        hist = np.bincount(self.registers, minlength=66 - self.p)
        return float(estimate_from_histograms(hist[None, :], self.p)[0])

    def merge(self, other: HyperLogLog) -> HyperLogLog:
        """Union into self (register max); returns self."""
        if not isinstance(other, HyperLogLog):
            raise TypeError(f"can only merge HyperLogLog with HyperLogLog, got {type(other).__name__}")
        if (self.p, self.seed) != (other.p, other.seed):
            raise ValueError(
                f"cannot merge HLL sketches with different (p, seed): {(self.p, self.seed)} vs {(other.p, other.seed)}"
            )
        np.maximum(self.registers, other.registers, out=self.registers)
        return self

    def copy(self) -> HyperLogLog:
        """Deep copy."""
        out = HyperLogLog(self.p, self.seed)
        out.registers[:] = self.registers
        return out

    def to_bytes(self) -> bytes:
        """Serialize (envelope kind HL, version 1), sparse when that is smaller."""
        return encode_registers(self.p, self.seed, self.registers)

    @classmethod
    def from_bytes(cls, blob: bytes | memoryview) -> HyperLogLog:
        """Deserialize; raises SketchFormatError on corrupt or foreign bytes."""
        p, seed, registers = decode_registers(blob)
        out = cls(p, seed)
        out.registers[:] = registers
        return out

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, HyperLogLog):
            return NotImplemented
        return (self.p, self.seed) == (other.p, other.seed) and bool(np.array_equal(self.registers, other.registers))

    __hash__ = None  # type: ignore[assignment]  # unhashable on purpose: mutable, compared by content

    def __repr__(self) -> str:
        return f"HyperLogLog(p={self.p}, seed={self.seed}, estimate={self.estimate():.1f})"


def encode_sparse(p: int, seed: int, idx: np.ndarray, values: np.ndarray) -> bytes:
    """Serialize from (register index, value) pairs with unique indices, values > 0."""
    m = 1 << p
    if idx.size * 4 < m:
        order = np.argsort(idx, kind="stable")
        entries = (idx[order].astype(np.uint32) << np.uint32(8)) | values[order].astype(np.uint32)
        body = _PARAMS.pack(p, _SPARSE, seed, entries.size) + entries.astype("<u4").tobytes()
    else:
        registers = np.zeros(m, dtype=np.uint8)
        registers[idx] = values
        body = _PARAMS.pack(p, _DENSE, seed, 0) + registers.tobytes()
    return wrap(KIND, VERSION, body)


def encode_registers(p: int, seed: int, registers: np.ndarray) -> bytes:
    """Serialize a dense register array, choosing the smaller layout."""
    idx = np.flatnonzero(registers)
    return encode_sparse(p, seed, idx, registers[idx])


def decode_registers(blob: bytes | memoryview) -> tuple[int, int, np.ndarray]:
    """Parse a serialized HLL into (p, seed, dense uint8 registers)."""
    (p, layout, seed, n_entries), payload = unwrap_params(blob, KIND, (VERSION,), _PARAMS)
    if not MIN_P <= p <= MAX_P:
        raise SketchFormatError(f"corrupt HL sketch: precision p={p} outside [{MIN_P}, {MAX_P}]")
    m = 1 << p
    body = payload[_PARAMS.size :]
    registers = np.zeros(m, dtype=np.uint8)
    if layout == _DENSE:
        if len(body) != m:
            raise SketchFormatError(f"corrupt HL sketch: dense p={p} needs {m} register bytes, found {len(body)}")
        registers[:] = np.frombuffer(body, dtype=np.uint8)
    elif layout == _SPARSE:
        if len(body) != 4 * n_entries:
            raise SketchFormatError(f"corrupt HL sketch: {n_entries} sparse entries need {4 * n_entries} bytes")
        entries = np.frombuffer(body, dtype="<u4")
        idx = (entries >> np.uint32(8)).astype(np.int64)
        if idx.size and int(idx.max()) >= m:
            raise SketchFormatError("corrupt HL sketch: sparse register index out of range")
        registers[idx] = (entries & np.uint32(0xFF)).astype(np.uint8)
    else:
        raise SketchFormatError(f"corrupt HL sketch: unknown register layout {layout}")
    if registers.size and int(registers.max()) > 65 - p:
        raise SketchFormatError(f"corrupt HL sketch: register value above {65 - p}")
    return p, seed, registers


def encode_many(p: int, seed: int, sizes: np.ndarray, register: np.ndarray, value: np.ndarray) -> pa.Array:
    """Serialize many sketches at once, byte-identical to ``encode_sparse`` per sketch.

    Sketch g owns rows bounds[g]:bounds[g+1] of (register, value), with
    bounds the prefix sums of sizes, registers unique and sorted within each
    sketch. Returns an Arrow binary array with one blob per sketch.
    """
    m = 1 << check_p(p)
    sizes = np.asarray(sizes, dtype=np.int64)
    bounds = np.concatenate([[0], np.cumsum(sizes)])
    sparse = sizes * 4 < m
    body_len = np.where(sparse, 4 * sizes, m) + _PARAMS.size
    offsets = np.concatenate([[0], np.cumsum(body_len)])
    payload = np.zeros(int(offsets[-1]), dtype=np.uint8)
    params = np.zeros(
        sizes.size, dtype=np.dtype([("p", "u1"), ("layout", "u1"), ("pad", "<u2"), ("seed", "<u8"), ("n", "<u4")])
    )
    params["p"], params["seed"] = p, seed
    params["layout"] = np.where(sparse, _SPARSE, _DENSE)
    params["n"] = np.where(sparse, sizes, 0)
    payload[(offsets[:-1, None] + np.arange(_PARAMS.size)).reshape(-1)] = params.view(np.uint8)
    row_group = np.repeat(np.arange(sizes.size), sizes)
    row_sparse = sparse[row_group]
    # Sparse sketches: entry j of group g lands at its body start + 4 * rank within g.
    rank = np.arange(bounds[-1]) - bounds[row_group]
    entries = (register.astype(np.uint32) << np.uint32(8)) | value.astype(np.uint32)
    dest = offsets[row_group] + _PARAMS.size + 4 * rank
    sel = np.flatnonzero(row_sparse)
    payload[(dest[sel, None] + np.arange(4)).reshape(-1)] = entries[sel].astype("<u4").view(np.uint8)
    # Dense sketches: the register byte sits at body start + register index.
    sel = np.flatnonzero(~row_sparse)
    payload[offsets[row_group[sel]] + _PARAMS.size + register[sel].astype(np.int64)] = value[sel]
    return wrap_many(KIND, VERSION, payload, offsets)
