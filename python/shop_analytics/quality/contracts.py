"""Versioned schema contracts per source (contracts/<source>.yml) and the batch check against them.

Version 1 of each contract is the raw data contract in shop_analytics.sources, in
DuckDB type names. A compatible change (schema_policy.py) is accepted and appended as
a new version; an incompatible one rejects the batch with one violation per problem.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import duckdb
import yaml

from shop_analytics.quality.duckdb_types import duckdb_type_names
from shop_analytics.quality.schema_policy import Column, Violation, changes, violations
from shop_analytics.quality.sql import quote_literal
from shop_analytics.sources import Source

Status = Literal["accepted", "new_version", "rejected"]
_HEADER = ("# Schema contract for one raw source: every accepted version, oldest first.\n"
           "# Written by shop_analytics.quality.contracts; new versions are appended by ingest.\n")


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

    @property
    def latest(self) -> ContractVersion:
        """The newest version."""
        return self.versions[-1]


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
            f"[{v.rule}] {v.message}" for v in self.violations)


def initial_contract(source: Source) -> Contract:
    """Version 1 of `source`'s contract: the schema in sources.py, as DuckDB types."""
    types = duckdb_type_names(source.schema)
    columns = tuple(Column(f.name, t, f.nullable) for f, t in zip(source.schema, types))
    return Contract(source.name, (ContractVersion(1, columns, ("initial contract from shop_analytics.sources",)),))


def contract_path(contracts_dir: Path, source_name: str) -> Path:
    """Where `source_name`'s contract lives."""
    return Path(contracts_dir) / f"{source_name}.yml"


def load_contract(path: Path) -> Contract:
    """Read a contract yml; raise ValueError naming the file if it is malformed."""
    data = yaml.safe_load(Path(path).read_text())
    try:
        versions = tuple(
            ContractVersion(int(v["version"]),
                            tuple(Column(str(c["name"]), str(c["type"]), bool(c["nullable"])) for c in v["columns"]),
                            tuple(v.get("changes") or ()))
            for v in data["versions"])
        contract = Contract(str(data["source"]), versions)
    except (KeyError, TypeError) as e:
        raise ValueError(f"malformed contract {path}: missing or wrong field {e}") from e
    numbers = [v.version for v in contract.versions]
    if not numbers or numbers != list(range(1, len(numbers) + 1)):
        raise ValueError(f"malformed contract {path}: versions must be 1..n in order, got {numbers}")
    return contract


def save_contract(contract: Contract, path: Path) -> None:
    """Write `contract` to `path` atomically (temp file + rename)."""
    data = {"source": contract.source, "versions": [
        {"version": v.version, "changes": list(v.changes),
         "columns": [{"name": c.name, "type": c.type, "nullable": c.nullable} for c in v.columns]}
        for v in contract.versions]}
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
    # parquet_schema starts with the root node ("schema") and lists nested children after
    # their parent; a child may share a top-level name, so keep the first entry per name.
    rep: dict[str, str] = {}
    rows = con.execute(f"SELECT name, repetition_type FROM parquet_schema({lit})").fetchall()
    for name, repetition in rows[1:]:
        rep.setdefault(name, repetition)
    return tuple(Column(name, type_, rep.get(name) != "REQUIRED") for name, type_, *_ in types)


def check_schema(contract: Contract, columns: tuple[Column, ...]) -> ContractCheck:
    """Check a batch's columns against every version of `contract` (see schema_policy)."""
    found: list[Violation] = []
    for version in contract.versions:
        for v in violations(version.columns, columns, version.version):
            if (v.column, v.rule) not in {(f.column, f.rule) for f in found}:
                found.append(v)
    if found:
        return ContractCheck(contract.source, "rejected", None, tuple(found), batch_columns=columns)
    diff = changes(contract.latest.columns, columns)
    if not diff:
        return ContractCheck(contract.source, "accepted", contract.latest.version, batch_columns=columns)
    new = ContractVersion(contract.latest.version + 1, columns, tuple(diff))
    return ContractCheck(contract.source, "new_version", new.version, new_version=new, batch_columns=columns)


def check_batch_contract(con: duckdb.DuckDBPyConnection, files: Sequence[Path], source: Source,
                         contracts_dir: Path, *, write: bool = True) -> ContractCheck:
    """Check a Parquet landing batch against contracts/<source>.yml; append a new version if accepted with changes.

    A missing contract file is created as version 1 from sources.py (when `write`).
    """
    return check_columns_contract(batch_schema(con, files), source, contracts_dir, write=write)


def check_columns_contract(columns: tuple[Column, ...], source: Source, contracts_dir: Path, *,
                           write: bool = True) -> ContractCheck:
    """Check a batch schema from any reader (e.g. DESCRIBE of a CSV/JSON scan) against the contract.

    Same policy and side effects as check_batch_contract.
    """
    path = contract_path(contracts_dir, source.name)
    contract = load_contract(path) if path.exists() else initial_contract(source)
    if not path.exists() and write:
        save_contract(contract, path)
    if contract.source != source.name:
        raise ValueError(f"{path} is the contract of {contract.source!r}, not {source.name!r}")
    result = check_schema(contract, columns)
    if result.new_version is not None and write:
        save_contract(Contract(contract.source, contract.versions + (result.new_version,)), path)
    return result


def latest_columns(source: Source, contracts_dir: Path) -> tuple[Column, ...]:
    """The newest contract version's columns (version 1 from sources.py if no file exists yet)."""
    path = contract_path(contracts_dir, source.name)
    contract = load_contract(path) if path.exists() else initial_contract(source)
    return contract.latest.columns
