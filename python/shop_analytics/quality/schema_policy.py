"""Schema evolution policy: may a new batch schema become a contract version, and are its names allowed?

BACKWARD_TRANSITIVE (Confluent Schema Registry), with Delta/Iceberg type widening: a
reader on the new schema must still read the data written under every earlier
version. So a new schema may add a nullable column or widen a type on the allowlist;
it may not remove or rename a column (stricter than Confluent, which allows
removals: staging selects every contract column), narrow or change a type's family,
make a nullable column required, or add a required column. One documented exception
(raw contract v2): a natural-key column (Source.string_keys) may go from an integer
type to VARCHAR ("integer key to string key"), because every integer converts exactly
to its decimal text and the gate converts integer keys that way. Checked against every
earlier version, not just the latest, so a chain of harmless steps cannot drift.
(contracts.check_schema admits a batch whose schema equals any registered version
before it asks whether a new schema is compatible.)

name_violations guards the gate's namespace (quality/namespace.py) before any of that.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from dataclasses import dataclass

from shop_analytics.quality.duckdb_types import compare, family
from shop_analytics.quality.namespace import GATE_PREFIX, NEW_COLUMN_NAME, RESERVED_NAMES

# Violation rules.
REMOVED = "removed_column"
RENAMED = "renamed_column"
NARROWING = "narrowing"
FAMILY_CHANGE = "type_family_change"
NOT_WIDENING = "type_change_not_allowlisted"
NULLABLE_TO_REQUIRED = "nullable_to_required"
NEW_REQUIRED = "new_required_column"
RESERVED_COLUMN = "reserved_column"
DUPLICATE_COLUMN = "duplicate_column"
INVALID_COLUMN_NAME = "invalid_column_name"


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


def is_key_to_string(old_type: str, new_type: str) -> bool:
    """True for the one allowance of key columns: an integer type (signed or not) to VARCHAR."""
    return family(old_type) in ("integer", "unsigned integer") and new_type.strip().upper() == "VARCHAR"


def violations(
    old: tuple[Column, ...],
    new: tuple[Column, ...],
    old_version: int,
    string_keys: Collection[str] = (),
    optional: Collection[str] = (),
) -> list[Violation]:
    """Every rule `new` breaks with respect to contract version `old_version` (columns `old`).

    `string_keys` are the natural-key columns allowed to change from an integer type to VARCHAR.
    `optional` columns may be left out: nullable columns that a later version added, so data
    of the older shape, which lacks them, is read with NULLs there anyway.
    """
    before, after = {c.name: c for c in old}, {c.name: c for c in new}
    added = [c for c in new if c.name not in before]
    out: list[Violation] = []
    for col in old:
        now = after.get(col.name)
        if now is None and col.name in optional:
            continue
        if now is None:
            twins = [a.name for a in added if a.type == col.type]
            if twins:
                out.append(
                    Violation(
                        col.name,
                        RENAMED,
                        f"column {col.name!r} ({col.type}) of contract v{old_version} is missing and "
                        f"{', '.join(repr(t) for t in twins)} with the same type is new: renamed? Renames break "
                        f"readers; keep {col.name!r} and add the new name as a nullable column.",
                    )
                )
            else:
                out.append(
                    Violation(
                        col.name,
                        REMOVED,
                        f"column {col.name!r} ({col.type}) of contract v{old_version} is missing from the batch; "
                        f"columns may not be removed.",
                    )
                )
            continue
        if not (col.name in string_keys and is_key_to_string(col.type, now.type)):
            out += _type_violations(col, now, old_version)
        if col.nullable and not now.nullable:
            out.append(
                Violation(
                    col.name,
                    NULLABLE_TO_REQUIRED,
                    f"column {col.name!r} is nullable in contract v{old_version} but required in the batch; "
                    f"data written under v{old_version} may hold NULLs.",
                )
            )
    for col in added:
        if not col.nullable:
            out.append(
                Violation(
                    col.name,
                    NEW_REQUIRED,
                    f"new column {col.name!r} ({col.type}) is required; a new column must be nullable, "
                    f"because data written under v{old_version} has no value for it.",
                )
            )
    return out


def _type_violations(old: Column, new: Column, version: int) -> list[Violation]:
    kind = compare(old.type, new.type)
    change = f"column {old.name!r}: {old.type} in contract v{version} -> {new.type} in the batch"
    if kind in ("same", "widening"):
        return []
    if kind == "narrowing":
        return [Violation(old.name, NARROWING, f"{change} narrows the type; values may not fit.")]
    if kind == "family_change":
        hint = ""
        if family(old.type) in ("timestamp", "date") and family(new.type) in ("integer", "floating point"):
            hint = (
                " If the values are epoch seconds or milliseconds, set timestamp_format: epoch_s or epoch_ms "
                "for this source in ingest.yml (or for this batch in its _batch.yml)."
            )
        return [Violation(old.name, FAMILY_CHANGE, f"{change} changes the type family.{hint}")]
    return [
        Violation(
            old.name,
            NOT_WIDENING,
            f"{change} is not on the widening allowlist (integer up, FLOAT->DOUBLE, DECIMAL precision up "
            f"with the same scale).",
        )
    ]


def changes(old: tuple[Column, ...], new: tuple[Column, ...]) -> list[str]:
    """Accepted differences from `old` to `new`, as short descriptions for the contract history."""
    before = {c.name: c for c in old}
    out = []
    for col in new:
        prev = before.get(col.name)
        if prev is None:
            out.append(f"added nullable column {col.name} {col.type}")
        elif prev.type.upper() != col.type.upper():
            verb = "changed key" if is_key_to_string(prev.type, col.type) else "widened"
            out.append(f"{verb} {col.name} {prev.type} -> {col.type}")
        elif prev.nullable != col.nullable:
            out.append(f"made {col.name} nullable")
    return out


def _shown(name: str) -> str:
    return repr(name if len(name) <= 80 else name[:77] + "...")


def name_violations(names: Sequence[str | None], contract_names: Collection[str]) -> list[Violation]:
    """Column names a batch may not use: reserved, repeated (case-insensitively), or new and off the grammar.

    `contract_names` are the columns of every contract version: they keep their names.
    """
    out: list[Violation] = []
    seen: dict[str, str] = {}
    for raw in names:
        name = raw or ""
        folded = name.casefold()
        if folded in seen:
            other = seen[folded]
            how = "appears twice" if other == name else f"and {_shown(other)} differ only in case"
            out.append(
                Violation(
                    name,
                    DUPLICATE_COLUMN,
                    f"column {_shown(name)} {how}; DuckDB names are case-insensitive, so they would collide.",
                )
            )
            continue
        seen[folded] = name
        if folded.startswith(GATE_PREFIX):
            out.append(
                Violation(
                    name,
                    RESERVED_COLUMN,
                    f"column {_shown(name)} is reserved: "
                    f"names starting with {GATE_PREFIX!r} belong to the quality gate.",
                )
            )
        elif folded in RESERVED_NAMES:
            out.append(
                Violation(
                    name,
                    RESERVED_COLUMN,
                    f"column {_shown(name)} is reserved: the lake or the staging models add a column of that name "
                    f"({', '.join(sorted(RESERVED_NAMES))}); rename it.",
                )
            )
        elif name not in contract_names and not NEW_COLUMN_NAME.fullmatch(name):
            out.append(
                Violation(
                    name,
                    INVALID_COLUMN_NAME,
                    f"new column {_shown(name)} is not a valid name: letters, digits and underscores, starting with a "
                    f"letter or underscore, at most 64 characters ({NEW_COLUMN_NAME.pattern}).",
                )
            )
    return out
