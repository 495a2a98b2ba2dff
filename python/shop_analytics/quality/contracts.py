"""Versioned schema contracts per source and the batch check against them.

A source's contract is its list of versions. The maintainers' baseline lives in the
tracked contracts/<source>.yml (version 1 is the raw data contract in
shop_analytics.quality.raw_contract; without a file, that is the whole baseline). Versions that
ingest accepts at run time are data, recorded in the ingest catalog, never in the
yml: the effective contract is the yml versions followed by the catalog's
(effective_contract). Policy: Confluent BACKWARD_TRANSITIVE (schema_policy.py). A
batch is admitted when its schema equals any registered version, or when it is a new
schema compatible with every registered version, which then becomes the next version.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any, Literal

import duckdb
import pyarrow as pa
import yaml

from shop_analytics.quality.duckdb_types import duckdb_type_names, family
from shop_analytics.quality.raw_contract import Source
from shop_analytics.quality.schema_policy import Column, Violation, changes, name_violations, violations
from shop_analytics.sql import quote_literal

Status = Literal["accepted", "new_version", "rejected"]
NEW_IN_V2 = "new source in raw contract v2"
_HEADER = (
    "# Schema contract for one raw source: the maintainers' versions, oldest first.\n"
    "# Versions accepted at run time are recorded in the ingest catalog, not here.\n"
)


@dataclass(frozen=True)
class ContractVersion:
    """One version of a source's schema, with what changed from the previous one."""

    version: int
    columns: tuple[Column, ...]
    changes: tuple[str, ...] = ()


@dataclass(frozen=True)
class Contract:
    """All versions of one source's schema contract, oldest first."""

    source: str
    versions: tuple[ContractVersion, ...]
    string_keys: frozenset[str] = frozenset()  # natural-key columns: integer -> VARCHAR is allowed (schema_policy)
    # Columns a batch may leave out: nullable columns the maintainers added in a later version of
    # contracts/<source>.yml (e.g. items.name in v2), so batches of the older shape are still admitted.
    optional: frozenset[str] = frozenset()

    @property
    def latest(self) -> ContractVersion:
        """The newest version."""
        return self.versions[-1]

    @property
    def all_columns(self) -> tuple[Column, ...]:
        """Every column of every version, each as its newest version defines it, in order of first appearance."""
        found: dict[str, Column] = {}
        for version in self.versions:
            for column in version.columns:
                found[column.name] = column
        return tuple(found.values())

    @property
    def column_names(self) -> frozenset[str]:
        """Every column name of every version."""
        return frozenset(c.name for v in self.versions for c in v.columns)

    def matching(self, columns: Sequence[Column]) -> ContractVersion | None:
        """The newest version whose schema equals `columns` (names, types, nullability; any order).

        Two differences do not count: a batch column that is required where the version allows
        NULLs (stricter, never in conflict), and an integer natural key where the version has
        text, or the other way round (the gate converts integer keys to their decimal text).
        """
        for version in reversed(self.versions):
            nullable = {c.name for c in version.columns if c.nullable}
            relaxed = [Column(c.name, c.type, c.nullable or c.name in nullable) for c in columns]
            if _schema_key(self.keys_as_text(version.columns)) == _schema_key(self.keys_as_text(relaxed)):
                return version
        return None

    def keys_as_text(self, columns: Sequence[Column]) -> list[Column]:
        """`columns` with integer natural keys typed as text, the way the gate reads them."""
        return [
            Column(c.name, "VARCHAR", c.nullable)
            if c.name in self.string_keys and family(c.type) in ("integer", "unsigned integer")
            else c
            for c in columns
        ]

    def with_version(self, version: ContractVersion) -> Contract:
        """This contract with `version` appended."""
        return Contract(self.source, self.versions + (version,), self.string_keys, self.optional)


@dataclass(frozen=True)
class ContractCheck:
    """Outcome of checking a batch schema: accepted as is, accepted as a new version, or rejected."""

    source: str
    status: Status
    version: int | None  # the version the batch conforms to (new version if status == new_version)
    violations: tuple[Violation, ...] = ()
    new_version: ContractVersion | None = None
    batch_columns: tuple[Column, ...] = field(default=())

    @property
    def accepted(self) -> bool:
        """True unless the batch was rejected."""
        return self.status != "rejected"

    def message(self) -> str:
        """One readable paragraph for logs and quarantine reports."""
        if self.status == "accepted":
            return f"{self.source}: schema matches contract v{self.version}"
        if self.status == "new_version":
            assert self.new_version
            return f"{self.source}: accepted as contract v{self.version}: {'; '.join(self.new_version.changes)}"
        return f"{self.source}: batch rejected by schema contract: " + " ".join(
            f"[{v.rule}] {v.message}" for v in self.violations
        )


def initial_contract(source: Source) -> Contract:
    """The contract of `source` without a yml: version 1 (the legacy v1 schema when it has one), then version 2."""
    v2 = _columns(source.schema)
    if source.v1_schema is None:
        return Contract(source.name, (ContractVersion(1, v2, (NEW_IN_V2,)),), frozenset(source.string_keys))
    # The label recorded in contracts/*.yml when version 1 was written (its module has moved since):
    # contract versions are data, compared as written.
    v1 = _columns(source.v1_schema)
    return Contract(
        source.name,
        (
            ContractVersion(1, v1, ("initial contract from shop_analytics.sources",)),
            ContractVersion(2, v2, tuple(changes(v1, v2))),
        ),
        frozenset(source.string_keys),
    )


def _columns(schema: pa.Schema) -> tuple[Column, ...]:
    types = duckdb_type_names(schema)
    return tuple(Column(f.name, t, f.nullable) for f, t in zip(schema, types, strict=True))


def contract_path(contracts_dir: Path, source_name: str) -> Path:
    """Where `source_name`'s contract lives."""
    return Path(contracts_dir) / f"{source_name}.yml"


def load_contract(path: Path) -> Contract:
    """Read a contract yml; raise ValueError naming the file if it is malformed."""
    data = yaml.safe_load(Path(path).read_text())
    try:
        versions = tuple(
            ContractVersion(
                int(v["version"]),
                tuple(Column(str(c["name"]), str(c["type"]), bool(c["nullable"])) for c in v["columns"]),
                tuple(v.get("changes") or ()),
            )
            for v in data["versions"]
        )
        contract = Contract(str(data["source"]), versions)
    except (KeyError, TypeError) as e:
        raise ValueError(f"malformed contract {path}: missing or wrong field {e}") from e
    numbers = [v.version for v in contract.versions]
    if not numbers or numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"malformed contract {path}: versions must be 1..n in order, got {numbers}")
    return contract


def save_contract(contract: Contract, path: Path) -> None:
    """Write `contract` to `path` atomically (temp file + rename)."""
    data = {
        "source": contract.source,
        "versions": [
            {
                "version": v.version,
                "changes": list(v.changes),
                "columns": [{"name": c.name, "type": c.type, "nullable": c.nullable} for c in v.columns],
            }
            for v in contract.versions
        ],
    }
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(path.name + ".tmp")
    tmp.write_text(_HEADER + yaml.safe_dump(data, sort_keys=False))
    os.replace(tmp, path)


def batch_schema(con: duckdb.DuckDBPyConnection, files: Sequence[Path]) -> tuple[Column, ...]:
    """Columns of a Parquet batch: exact DuckDB types (DESCRIBE) and nullability (parquet_schema).

    Every file must have the same schema; hive partition columns are not part of it.
    """
    if not files:
        raise ValueError("a batch needs at least one file")
    schemas = {str(f): _file_schema(con, str(f)) for f in files}
    first_file, first = next(iter(schemas.items()))
    for f, cols in schemas.items():
        if cols != first:
            raise ValueError(f"files of one batch disagree on the schema: {first_file} has {first}, {f} has {cols}")
    return first


def _file_schema(con: duckdb.DuckDBPyConnection, path: str) -> tuple[Column, ...]:
    lit = quote_literal(path)
    types = con.execute(f"DESCRIBE SELECT * FROM read_parquet({lit}, hive_partitioning = false)").fetchall()
    # DESCRIBE renames repeated names (a, A -> a, A_1), so the names come from the file's own
    # schema tree: parquet_schema lists the root, then each node followed by its children.
    rows = con.execute(f"SELECT name, repetition_type, num_children FROM parquet_schema({lit})").fetchall()
    top, i = [], 1
    while i < len(rows):
        top.append(rows[i])
        i = _skip_subtree(rows, i)
    if len(top) != len(types):
        raise ValueError(f"{path}: {len(top)} top-level columns in the Parquet schema, {len(types)} read")
    return tuple(
        Column(name, type_[1], repetition != "REQUIRED")
        for (name, repetition, _), type_ in zip(top, types, strict=True)
    )


def _skip_subtree(rows: list[tuple[Any, ...]], i: int) -> int:
    """Index just after the node at `i` and all its descendants."""
    children = rows[i][2] or 0
    i += 1
    for _ in range(children):
        i = _skip_subtree(rows, i)
    return i


def _schema_key(columns: Sequence[Column]) -> frozenset[tuple[str, str, bool]]:
    return frozenset((c.name, c.type.strip().upper(), c.nullable) for c in columns)


def relax_nullability(contract: Contract, columns: tuple[Column, ...]) -> tuple[Column, ...]:
    """`columns` with a required column read as nullable where the latest version allows NULLs.

    A batch that promises no NULLs (a REQUIRED Parquet column) is stricter than the contract,
    never in conflict with it; it should match the version, not register a new one.
    """
    nullable = {c.name for c in contract.latest.columns if c.nullable}
    return tuple(Column(c.name, c.type, True) if c.name in nullable and not c.nullable else c for c in columns)


def check_schema(contract: Contract, columns: tuple[Column, ...]) -> ContractCheck:
    """Check a batch's columns against `contract` (BACKWARD_TRANSITIVE, see the module docstring)."""
    columns = tuple(contract.keys_as_text(columns))  # as the reader converts integer keys
    named = name_violations([c.name for c in columns], contract.column_names)
    if named:
        return ContractCheck(contract.source, "rejected", None, tuple(named), batch_columns=columns)
    match = contract.matching(columns)
    if match is not None:
        return ContractCheck(contract.source, "accepted", match.version, batch_columns=columns)
    columns = relax_nullability(contract, columns)
    found: list[Violation] = []
    for version in contract.versions:
        for v in violations(version.columns, columns, version.version, contract.string_keys, contract.optional):
            if (v.column, v.rule) not in {(f.column, f.rule) for f in found}:
                found.append(v)
    if found:
        return ContractCheck(contract.source, "rejected", None, tuple(found), batch_columns=columns)
    new = ContractVersion(contract.latest.version + 1, columns, tuple(changes(contract.latest.columns, columns)))
    return ContractCheck(contract.source, "new_version", new.version, new_version=new, batch_columns=columns)


def baseline_contract(source: Source, contracts_dir: Path) -> Contract:
    """The maintainers' contract: contracts/<source>.yml, or version 1 from raw_contract.py if there is no file."""
    path = contract_path(contracts_dir, source.name)
    contract = load_contract(path) if path.exists() else initial_contract(source)
    if contract.source != source.name:
        raise ValueError(f"{path} is the contract of {contract.source!r}, not {source.name!r}")
    names = [{c.name for c in v.columns} for v in contract.versions]
    optional = frozenset(
        c.name for c in contract.latest.columns if c.nullable and any(c.name not in earlier for earlier in names)
    )
    return replace(contract, string_keys=frozenset(source.string_keys), optional=optional)


def effective_contract(source: Source, contracts_dir: Path, accepted: Sequence[ContractVersion] = ()) -> Contract:
    """The baseline versions followed by `accepted` (versions registered at run time, e.g. in the ingest catalog).

    An accepted version that the baseline now holds with the same schema (the maintainers
    adopted it) is dropped; one that the baseline holds with a different schema is a
    conflict, and raises ValueError naming both.
    """
    contract = baseline_contract(source, contracts_dir)
    base = {v.version: v for v in contract.versions}
    for version in sorted(accepted, key=lambda v: v.version):
        same = base.get(version.version)
        if same is not None:
            if _schema_key(same.columns) != _schema_key(version.columns):
                raise ValueError(
                    f"{contract_path(contracts_dir, source.name)} version {version.version} differs from the version "
                    f"{version.version} that ingest accepted at run time (recorded in the ingest catalog); give the "
                    f"maintainers' new version a number above {max(v.version for v in accepted)}"
                )
            continue
        if version.version != contract.latest.version + 1:
            raise ValueError(
                f"{source.name}: run-time contract version {version.version} does not follow "
                f"version {contract.latest.version}"
            )
        contract = contract.with_version(version)
    return contract


def check_batch_contract(
    con: duckdb.DuckDBPyConnection,
    files: Sequence[Path],
    source: Source,
    contracts_dir: Path,
    accepted: Sequence[ContractVersion] = (),
) -> ContractCheck:
    """Check a Parquet landing batch against the effective contract of `source`; writes nothing."""
    return check_columns_contract(batch_schema(con, files), source, contracts_dir, accepted)


def check_columns_contract(
    columns: tuple[Column, ...], source: Source, contracts_dir: Path, accepted: Sequence[ContractVersion] = ()
) -> ContractCheck:
    """Check a batch schema from any reader against the effective contract of `source`; writes nothing."""
    return check_schema(effective_contract(source, contracts_dir, accepted), columns)
