"""XXH64 key hashing: published test vectors and encoding equivalences."""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pytest

from shop_analytics.sketches.hashing import hash_bytes, hash_int64, hash_keys, xxh64

# Published XXH64 vectors (seed, input, digest), as found in the reference
# implementation's sanity checks and the test suites of independent ports.
VECTORS = [
    (0, b"", 0xEF46DB3751D8E999),
    (0, b"a", 0xD24EC4F1A98C6E5B),
    (0, b"ab", 0x65F708CA92D04A61),
    (0, b"abc", 0x44BC2CF5AD770999),
    (0, b"message digest", 0x066ED728FCEEB3BE),
    (0, b"abcdefghijkl", 0x4B09B7D3A233D4B3),
    (0, b"abcdefghijklmnop", 0x71CE8137CA2DD53D),
    (0, b"abcdefghijklmnopqrstuvwx", 0x0BEC95E34669983B),
    (0, b"abcdefghijklmnopqrstuvwxyz", 0xCFE1F278FA89835C),
    (0, b"abcdefghijklmnopqrstuvwxyz12345", 0x467605901B01D6F6),
    (0, b"abcdefghijklmnopqrstuvwxyz123456", 0x0022EE3B5A18531B),
    (0, b"abcdefghijklmnopqrstuvwxyz1234567", 0x23BBD16D29353C5F),
    (0, b"The quick brown fox jumps over the lazy dog", 0x0B242D361FDA71BC),
    (0, b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789", 0xAAA46907D3047814),
    (0, b"1234567890" * 8, 0xE04A477F19EE145D),
    (0, "测试".encode(), 0x403D66837E9BC61F),
    (668718853, b"", 0x04E830582A31A119),
    (191961062, b"a", 0x6E05BA2887C97977),
    (877380273, b"abcdefghijklmnopqrstuvwxyz12345", 0x37B562EC5715E132),
]


@pytest.mark.parametrize(("seed", "data", "expected"), VECTORS)
def test_published_vectors(seed: int, data: bytes, expected: int) -> None:
    assert xxh64(data, seed) == expected


def test_vectorized_batch_equals_one_by_one() -> None:
    # All vectors hashed in one call (mixed lengths, so stripe, word, half-word
    # and byte steps all run on subsets) must equal the published digests.
    seed0 = [(d, e) for s, d, e in VECTORS if s == 0]
    arr = pa.array([d for d, _ in seed0], pa.binary())
    hashes, valid = hash_keys(arr)
    assert valid is None
    assert hashes.tolist() == [e for _, e in seed0]


def test_int_path_is_xxh64_of_little_endian_bytes() -> None:
    rng = np.random.default_rng(3)
    values = np.concatenate(
        [
            rng.integers(-(2**63), 2**63 - 1, 200, dtype=np.int64, endpoint=True),
            np.array([0, 1, -1, 2**63 - 1, -(2**63)], dtype=np.int64),
        ]
    )
    fast = hash_int64(values)
    data = values.astype("<i8").view(np.uint8)
    offsets = np.arange(0, 8 * values.size + 1, 8)
    assert np.array_equal(fast, hash_bytes(data, offsets))
    assert int(fast[1]) == xxh64(int(values[1]).to_bytes(8, "little", signed=True))


def test_int_widths_hash_as_int64() -> None:
    for t in (pa.int8(), pa.int16(), pa.int32(), pa.uint16(), pa.int64()):
        h, _ = hash_keys(pa.array([1, 2, 100], t))
        assert np.array_equal(h, hash_int64(np.array([1, 2, 100])))
    h_np, _ = hash_keys(np.array([1, 2, 100], dtype=np.int32))
    assert np.array_equal(h_np, hash_int64(np.array([1, 2, 100])))


def test_string_layouts_agree() -> None:
    words = ["", "a", "page/42", "x" * 70, "ümlaut", None]
    expected = [xxh64((w or "").encode()) for w in words]
    for t in (pa.string(), pa.large_string(), pa.string_view()):
        h, valid = hash_keys(pa.array(words, t))
        assert valid is not None and valid.tolist() == [w is not None for w in words]
        assert h[:-1].tolist() == expected[:-1]
    sliced = pa.array(words[:-1] * 3, pa.string()).slice(2, 7)
    h, _ = hash_keys(sliced)
    assert h.tolist() == [xxh64(w.encode()) for w in (words[:-1] * 3)[2:9]]
    chunked = pa.chunked_array([pa.array(["a", "b"]), pa.array(["c"])])
    assert hash_keys(chunked)[0].tolist() == [xxh64(b"a"), xxh64(b"b"), xxh64(b"c")]
    assert hash_keys(np.array(["a", "b"], dtype=object))[0].tolist() == [xxh64(b"a"), xxh64(b"b")]


def test_int_and_string_keys_differ() -> None:
    assert hash_keys(pa.array([42]))[0][0] != hash_keys(pa.array(["42"]))[0][0]


def test_long_and_varied_lengths_match_scalar_reference() -> None:
    rng = np.random.default_rng(5)
    strings = [bytes(rng.integers(0, 256, n, dtype=np.uint8)) for n in [*range(80), 257, 1000]]
    h, _ = hash_keys(pa.array(strings, pa.binary()))
    # The scalar path runs each string alone, so no cross-string masking is involved.
    assert h.tolist() == [xxh64(s) for s in strings]


def test_unsupported_types_raise() -> None:
    with pytest.raises(TypeError, match="cannot hash"):
        hash_keys(pa.array([1.5, 2.5]))
    with pytest.raises(TypeError, match="cannot hash"):
        hash_keys(np.array([1.5]))
    with pytest.raises(TypeError, match="must be a NumPy or Arrow array"):
        hash_keys([1, 2])  # type: ignore[arg-type]  # a list, not an array, on purpose
