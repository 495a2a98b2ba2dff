"""Natural keys as users know them: customer ids, product codes and order numbers, built vectorized.

Internally every user and item is a 1-based index (fast NumPy sampling); the landing
files carry string codes derived from it, so a code never has to be looked up:
- customer ids are decimal text (`"10042"`), and one in ten is a web-shop id with a
  letter and leading zeros (`"W00010050"`): text keys that break any integer cast;
- product codes are five-plus digits, a share with a letter suffix (`"85123A"`-like);
- order numbers are invoice numbers (`"510042"`); a cancellation document is `C<n>`,
  a return `R<n>` and an unreferenced credit note `CN<n>`.
An index beyond the population gives a well-formed code that no dimension row has.
"""

from __future__ import annotations

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

_KEY_BASE = 10_000
ORDER_BASE = 500_000
# Original order numbers that were never issued (unknown_order) start here.
NEVER_ISSUED_ORDER = 90_000_000_000
_SUFFIXES = pa.array(list("ABCDEFGHJKLM"))
_WEB_SHOP_EVERY = 10
_SUFFIX_EVERY, _SUFFIX_AT = 7, 3


def _text(numbers: np.ndarray, mask: np.ndarray | None) -> pa.Array:
    return pc.cast(pa.array(numbers, type=pa.int64(), mask=mask), pa.string())


def is_web_shop_customer(index: np.ndarray) -> np.ndarray:
    """True where a customer index has a lettered web-shop id (not representable as an integer)."""
    result: np.ndarray = index % _WEB_SHOP_EVERY == 0
    return result


def has_suffix(index: np.ndarray) -> np.ndarray:
    """True where a product index has a letter-suffixed code."""
    result: np.ndarray = index % _SUFFIX_EVERY == _SUFFIX_AT
    return result


def customer_ids(index: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Customer ids for 1-based user indices; `mask` marks NULLs."""
    plain = _text(_KEY_BASE + index, mask)
    web = pc.binary_join_element_wise("W", pc.utf8_lpad(plain, 8, "0"), "")
    return pc.if_else(pa.array(is_web_shop_customer(index)), web, plain)


def product_codes(index: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Product codes for 1-based item indices; `mask` marks NULLs."""
    plain = _text(_KEY_BASE + index, mask)
    letter = pc.take(_SUFFIXES, pa.array((index // _SUFFIX_EVERY) % len(_SUFFIXES)))
    suffixed = pc.binary_join_element_wise(plain, letter, "")
    return pc.if_else(pa.array(has_suffix(index)), suffixed, plain)


def legacy_integer_key(index: np.ndarray) -> np.ndarray:
    """The integer a v1 (integer-keyed) source uses for an index whose text key is all digits."""
    result: np.ndarray = _KEY_BASE + index
    return result


def order_numbers(numbers: np.ndarray, prefix: str | pa.Array = "", mask: np.ndarray | None = None) -> pa.Array:
    """Order/document ids `<prefix><ORDER_BASE + number>`; `prefix` is one string or one per row."""
    text = _text(ORDER_BASE + numbers, mask)
    if isinstance(prefix, str) and not prefix:
        return text
    return pc.binary_join_element_wise(prefix, text, "")
