"""A digest of the shop_analytics package's Python source, for models that skip unchanged retrains.

A retrained model (macros/incremental/retrain_inputs.sql) is skipped when its inputs and its code
are those of its stored table. Its SQL is in its compiled code, but a Python model or a UDF runs
package code that dbt does not see: this digest stands for that code, so upgrading the package
retrains the models that depend on it.
"""

from __future__ import annotations

import hashlib
from functools import cache
from pathlib import Path

PACKAGE_ROOT = Path(__file__).resolve().parents[1]


@cache  # the package's files do not change under a running dbt process
def package_code_digest() -> str:
    """SHA-256 over the relative paths and bytes of every .py file of the shop_analytics package."""
    digest = hashlib.sha256()
    for path in sorted(PACKAGE_ROOT.rglob("*.py")):
        relative = path.relative_to(PACKAGE_ROOT).as_posix()
        digest.update(relative.encode() + b"\0")
        digest.update(path.read_bytes() + b"\0")
    return digest.hexdigest()
