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
    web = _present(is_web_shop_customer(index), mask)
    lettered = pc.binary_join_element_wise("W", pc.utf8_lpad(_text(_KEY_BASE + index[web], None), 8, "0"), "")
    # Only the lettered tenth is rebuilt: string kernels over every row would double the cost.
    return pc.replace_with_mask(_text(_KEY_BASE + index, mask), pa.array(web), lettered)


def product_codes(index: np.ndarray, mask: np.ndarray | None = None) -> pa.Array:
    """Product codes for 1-based item indices; `mask` marks NULLs."""
    suffixed = _present(has_suffix(index), mask)
    letter = pc.take(_SUFFIXES, pa.array((index[suffixed] // _SUFFIX_EVERY) % len(_SUFFIXES)))
    codes = pc.binary_join_element_wise(_text(_KEY_BASE + index[suffixed], None), letter, "")
    return pc.replace_with_mask(_text(_KEY_BASE + index, mask), pa.array(suffixed), codes)


def _present(flags: np.ndarray, mask: np.ndarray | None) -> np.ndarray:
    result: np.ndarray = flags if mask is None else flags & ~mask
    return result


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
