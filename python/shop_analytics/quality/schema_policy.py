"""Schema evolution policy: is an incoming batch schema compatible with every contract version?

BACKWARD-style (Confluent), with Delta/Iceberg type widening: a reader on the new
schema must still read all data written under earlier versions. So a batch may add a
nullable column or widen a type on the allowlist; it may not remove or rename a
column, narrow or change a type's family, make a nullable column required, or add a
required column. Checked against every earlier version, not just the latest
(transitive), so a chain of individually harmless steps cannot drift.
"""

from __future__ import annotations

from dataclasses import dataclass

from shop_analytics.quality.duckdb_types import compare

# Violation rules.
REMOVED = "removed_column"
RENAMED = "renamed_column"
NARROWING = "narrowing"
FAMILY_CHANGE = "type_family_change"
NOT_WIDENING = "type_change_not_allowlisted"
NULLABLE_TO_REQUIRED = "nullable_to_required"
NEW_REQUIRED = "new_required_column"


@dataclass(frozen=True)
class Column:
    """One column of a contract or a batch: DuckDB type name and nullability."""

    name: str
    type: str
    nullable: bool = True


@dataclass(frozen=True)
class Violation:
    """Why a batch schema is rejected: the column, the broken rule, and a readable message."""

    column: str
    rule: str
    message: str


def violations(old: tuple[Column, ...], new: tuple[Column, ...], old_version: int) -> list[Violation]:
    """Every rule `new` breaks with respect to contract version `old_version` (columns `old`)."""
    before, after = {c.name: c for c in old}, {c.name: c for c in new}
    added = [c for c in new if c.name not in before]
    out: list[Violation] = []
    for col in old:
        now = after.get(col.name)
        if now is None:
            twins = [a.name for a in added if a.type == col.type]
            if twins:
                out.append(Violation(col.name, RENAMED,
                    f"column {col.name!r} ({col.type}) of contract v{old_version} is missing and "
                    f"{', '.join(repr(t) for t in twins)} with the same type is new: renamed? Renames break "
                    f"readers; keep {col.name!r} and add the new name as a nullable column."))
            else:
                out.append(Violation(col.name, REMOVED,
                    f"column {col.name!r} ({col.type}) of contract v{old_version} is missing from the batch; "
                    f"columns may not be removed."))
            continue
        out += _type_violations(col, now, old_version)
        if col.nullable and not now.nullable:
            out.append(Violation(col.name, NULLABLE_TO_REQUIRED,
                f"column {col.name!r} is nullable in contract v{old_version} but required in the batch; "
                f"data written under v{old_version} may hold NULLs."))
    for col in added:
        if not col.nullable:
            out.append(Violation(col.name, NEW_REQUIRED,
                f"new column {col.name!r} ({col.type}) is required; a new column must be nullable, "
                f"because data written under v{old_version} has no value for it."))
    return out


def _type_violations(old: Column, new: Column, version: int) -> list[Violation]:
    kind = compare(old.type, new.type)
    change = f"column {old.name!r}: {old.type} in contract v{version} -> {new.type} in the batch"
    if kind in ("same", "widening"):
        return []
    if kind == "narrowing":
        return [Violation(old.name, NARROWING, f"{change} narrows the type; values may not fit.")]
    if kind == "family_change":
        return [Violation(old.name, FAMILY_CHANGE, f"{change} changes the type family.")]
    return [Violation(old.name, NOT_WIDENING,
        f"{change} is not on the widening allowlist (integer up, FLOAT->DOUBLE, DECIMAL precision up "
        f"with the same scale).")]


def changes(old: tuple[Column, ...], new: tuple[Column, ...]) -> list[str]:
    """Accepted differences from `old` to `new`, as short descriptions for the contract history."""
    before = {c.name: c for c in old}
    out = []
    for col in new:
        prev = before.get(col.name)
        if prev is None:
            out.append(f"added nullable column {col.name} {col.type}")
        elif prev.type.upper() != col.type.upper():
            out.append(f"widened {col.name} {prev.type} -> {col.type}")
        elif prev.nullable != col.nullable:
            out.append(f"made {col.name} nullable")
    return out
