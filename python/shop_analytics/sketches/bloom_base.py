"""What the two Bloom filters share: a uint64 word array, key hashing, union by OR, copy, equality.

``BloomFilter`` and ``BlockedBloomFilter`` differ only in where a key's bits
go (``add_hashes`` / ``contains_hashes``) and in their size parameter; the
rest is defined once here.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import BinaryIO, ClassVar, Self

import numpy as np

from shop_analytics.sketches.envelope import SketchFormatError, wrap_parts, write_parts
from shop_analytics.sketches.hashing import KeyArray, hash_keys


class BloomFilterBase(ABC):
    """Bits in ``words`` (uint64), set by ``add_hashes``; filters merge and compare when ``params()`` agree."""

    __slots__ = ("n_added", "num_hashes", "seed", "words")

    # For the merge error: what the filters are called, and what params() holds.
    _NOUN: ClassVar[str]
    _PARAM_NAMES: ClassVar[str]
    # The envelope's kind and format version of to_bytes().
    _KIND: ClassVar[bytes]
    _VERSION: ClassVar[int]

    n_added: int
    num_hashes: int
    seed: int
    words: np.ndarray

    @abstractmethod
    def __init__(self, size: int, num_hashes: int, seed: int = 0) -> None:
        """An empty filter of `size` (bits or blocks) and num_hashes; raises ValueError on bad parameters."""

    @abstractmethod
    def params(self) -> tuple[int, int, int]:
        """The constructor arguments (size, num_hashes, seed): equal for filters that can merge."""

    @abstractmethod
    def add_hashes(self, hashes: np.ndarray) -> None:
        """Insert keys given by their uint64 XXH64 hashes."""

    @abstractmethod
    def contains_hashes(self, hashes: np.ndarray) -> np.ndarray:
        """Membership test for keys given by their uint64 hashes."""

    @abstractmethod
    def _header_params(self) -> bytes:
        """The packed parameters that precede the words in to_bytes()."""

    def _parts(self) -> list[bytes | memoryview]:
        return [self._header_params(), self.words.astype("<u8", copy=False).data]

    def to_bytes(self) -> bytes:
        """Serialize with the versioned envelope (the class's kind and version)."""
        return wrap_parts(self._KIND, self._VERSION, self._parts())

    def write_to(self, out: BinaryIO) -> None:
        """Write to_bytes() to a binary file without a copy of the words in memory."""
        write_parts(out, self._KIND, self._VERSION, self._parts())

    def add(self, keys: KeyArray) -> None:
        """Insert int or string keys (NumPy/Arrow array); nulls are skipped."""
        hashes, valid = hash_keys(keys, self.seed)
        self.add_hashes(hashes if valid is None else hashes[valid])

    def contains(self, keys: KeyArray) -> np.ndarray:
        """Bool array: True if the key may be in the set (never False for an added key); nulls give False."""
        hashes, valid = hash_keys(keys, self.seed)
        hit = self.contains_hashes(hashes)
        if valid is not None:
            hit &= valid
        return hit

    def merge(self, other: Self) -> Self:
        """Union into self (bitwise OR); returns self."""
        name = type(self).__name__
        if not isinstance(other, type(self)):
            raise TypeError(f"can only merge {name} with {name}, got {type(other).__name__}")
        if self.params() != other.params():
            raise ValueError(
                f"cannot merge {self._NOUN} with different parameters {self._PARAM_NAMES}: "
                f"{self.params()} vs {other.params()}"
            )
        self.words |= other.words
        self.n_added += other.n_added
        return self

    def copy(self) -> Self:
        """Deep copy."""
        out = type(self)(*self.params())
        out.words[:] = self.words
        out.n_added = self.n_added
        return out

    @classmethod
    def _restore(cls, kind: bytes, params: tuple[int, int, int], n_added: int, words: memoryview) -> Self:
        """The filter of deserialized parameters and little-endian words; bad parameters raise SketchFormatError."""
        try:
            out = cls(*params)
        except ValueError as exc:
            raise SketchFormatError(f"corrupt {kind.decode()} sketch: {exc}") from exc
        out.words[:] = np.frombuffer(words, dtype="<u8")
        out.n_added = n_added
        return out

    def bits_set(self) -> int:
        """Number of bits set to 1."""
        return int(np.bitwise_count(self.words).sum())

    def __eq__(self, other: object) -> bool:
        if not isinstance(other, type(self)):
            return NotImplemented
        return self.params() == other.params() and bool(np.array_equal(self.words, other.words))

    __hash__ = None  # type: ignore[assignment]  # unhashable on purpose: mutable, compared by content
