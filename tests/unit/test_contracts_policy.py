"""Schema contracts: every accept and reject rule, BACKWARD_TRANSITIVE, names, yml and catalog versions, Parquet."""

from __future__ import annotations

from pathlib import Path

import duckdb
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
import yaml

from shop_analytics.quality.contracts import (
    Contract,
    ContractVersion,
    batch_schema,
    check_batch_contract,
    check_schema,
    contract_path,
    effective_contract,
    initial_contract,
    load_contract,
    save_contract,
)
from shop_analytics.quality.duckdb_types import compare, family
from shop_analytics.quality.raw_contract import ALL_SOURCES, PURCHASES, USERS
from shop_analytics.quality.schema_policy import (
    DUPLICATE_COLUMN,
    FAMILY_CHANGE,
    INVALID_COLUMN_NAME,
    NARROWING,
    NEW_REQUIRED,
    NOT_WIDENING,
    NULLABLE_TO_REQUIRED,
    REMOVED,
    RENAMED,
    RESERVED_COLUMN,
    Column,
    changes,
    violations,
)

V1 = (
    Column("id", "BIGINT", False),
    Column("n", "INTEGER"),
    Column("x", "FLOAT"),
    Column("d", "DECIMAL(10,2)"),
    Column("s", "SMALLINT"),
    Column("t", "TINYINT"),
    Column("name", "VARCHAR"),
)
CONTRACT = Contract("demo", (ContractVersion(1, V1),))


def _with(**changes: Column | None) -> tuple[Column, ...]:
    cols = [changes.get(c.name, c) for c in V1]
    return tuple(c for c in cols if c is not None)


def _rules(columns: tuple[Column, ...], contract: Contract = CONTRACT) -> list[tuple[str, str]]:
    result = check_schema(contract, columns)
    return [(v.column, v.rule) for v in result.violations]


def test_same_schema_is_accepted_without_new_version() -> None:
    result = check_schema(CONTRACT, V1)
    assert (result.status, result.version, result.new_version) == ("accepted", 1, None)


def test_column_order_does_not_matter() -> None:
    assert check_schema(CONTRACT, tuple(reversed(V1))).status == "accepted"


def test_new_nullable_column_becomes_a_new_version() -> None:
    result = check_schema(CONTRACT, V1 + (Column("coupon", "VARCHAR", True),))
    assert result.status == "new_version" and result.version == 2
    assert result.new_version is not None
    assert result.new_version.changes == ("added nullable column coupon VARCHAR",)


@pytest.mark.parametrize(
    "column, old, new",
    [
        ("n", "INTEGER", "BIGINT"),
        ("s", "SMALLINT", "INTEGER"),
        ("s", "SMALLINT", "BIGINT"),
        ("t", "TINYINT", "SMALLINT"),
        ("t", "TINYINT", "INTEGER"),
        ("t", "TINYINT", "BIGINT"),
        ("x", "FLOAT", "DOUBLE"),
        ("d", "DECIMAL(10,2)", "DECIMAL(18,2)"),
    ],
)
def test_allowlisted_widening_is_accepted(column: str, old: str, new: str) -> None:
    result = check_schema(CONTRACT, _with(**{column: Column(column, new)}))
    assert result.status == "new_version"
    assert result.new_version and result.new_version.changes == (f"widened {column} {old} -> {new}",)


def test_required_to_nullable_is_accepted() -> None:
    result = check_schema(CONTRACT, _with(id=Column("id", "BIGINT", True)))
    assert result.status == "new_version"
    assert result.new_version and result.new_version.changes == ("made id nullable",)


def test_removed_column_is_rejected_with_its_name() -> None:
    result = check_schema(CONTRACT, _with(name=None))
    assert [(v.column, v.rule) for v in result.violations] == [("name", REMOVED)]
    assert "'name'" in result.violations[0].message and "removed" in result.violations[0].message
    assert result.status == "rejected" and not result.accepted


def test_rename_is_reported_as_renamed() -> None:
    columns = _with(name=None) + (Column("full_name", "VARCHAR"),)
    result = check_schema(CONTRACT, columns)
    assert [(v.column, v.rule) for v in result.violations] == [("name", RENAMED)]
    assert "renamed?" in result.violations[0].message and "'full_name'" in result.violations[0].message


def test_removed_plus_added_with_other_type_is_a_removal() -> None:
    assert _rules(_with(name=None) + (Column("age", "INTEGER"),)) == [("name", REMOVED)]


@pytest.mark.parametrize(
    "old, new",
    [
        ("INTEGER", "SMALLINT"),
        ("BIGINT", "INTEGER"),
        ("DOUBLE", "FLOAT"),
        ("DECIMAL(10,2)", "DECIMAL(8,2)"),
        ("SMALLINT", "TINYINT"),
    ],
)
def test_narrowing_is_rejected(old: str, new: str) -> None:
    contract = Contract("demo", (ContractVersion(1, (Column("c", old),)),))
    result = check_schema(contract, (Column("c", new),))
    assert [(v.column, v.rule) for v in result.violations] == [("c", NARROWING)]
    assert f"{old} in contract v1 -> {new}" in result.violations[0].message


@pytest.mark.parametrize(
    "column, new",
    [("n", "VARCHAR"), ("x", "BIGINT"), ("name", "BLOB"), ("n", "DOUBLE"), ("d", "DOUBLE"), ("n", "TIMESTAMP")],
)
def test_type_family_change_is_rejected(column: str, new: str) -> None:
    result = check_schema(CONTRACT, _with(**{column: Column(column, new)}))
    assert [(v.column, v.rule) for v in result.violations] == [(column, FAMILY_CHANGE)]
    assert "family" in result.violations[0].message


def test_same_family_change_off_the_allowlist_is_rejected() -> None:
    assert _rules(_with(d=Column("d", "DECIMAL(12,4)"))) == [("d", NOT_WIDENING)]
    ts = Contract("demo", (ContractVersion(1, (Column("t", "TIMESTAMP"),)),))
    assert _rules((Column("t", "TIMESTAMP_NS"),), ts) == [("t", NOT_WIDENING)]


def test_nullable_to_required_is_a_contract_violation_but_a_stricter_batch_matches() -> None:
    # As a schema change between versions, making a column required breaks readers of old data ...
    stricter = _with(n=Column("n", "INTEGER", False))
    assert [(v.column, v.rule) for v in violations(V1, stricter, 1)] == [("n", NULLABLE_TO_REQUIRED)]
    # ... but a batch that promises no NULLs where the contract allows them is read as the version (v2).
    result = check_schema(CONTRACT, stricter)
    assert (result.status, result.version) == ("accepted", 1)


def test_new_required_column_is_rejected() -> None:
    assert _rules(V1 + (Column("coupon", "VARCHAR", False),)) == [("coupon", NEW_REQUIRED)]


def test_every_violation_is_reported_at_once() -> None:
    columns = _with(name=None, n=Column("n", "VARCHAR"), d=Column("d", "DECIMAL(12,4)"))
    assert sorted(_rules(columns)) == sorted([("name", REMOVED), ("n", FAMILY_CHANGE), ("d", NOT_WIDENING)])


def test_check_is_transitive_over_all_versions() -> None:
    # v2 widened n to BIGINT. A batch in v1's shape is still admitted as v1 (BACKWARD_TRANSITIVE) ...
    v2 = ContractVersion(2, _with(n=Column("n", "BIGINT")), ("widened n INTEGER -> BIGINT",))
    contract = Contract("demo", (ContractVersion(1, V1), v2))
    result = check_schema(contract, V1)
    assert (result.status, result.version) == ("accepted", 1)
    # ... but a new schema built on v1's types narrows v2, so it cannot become v3.
    assert _rules(V1 + (Column("z", "DATE"),), contract) == [("n", NARROWING)]
    # A later version that (wrongly) dropped a column still cannot let a new schema drop it.
    v2_dropped = ContractVersion(2, _with(name=None), ())
    dropped = Contract("demo", (ContractVersion(1, V1), v2_dropped))
    assert _rules(_with(name=None) + (Column("z", "DATE"),), dropped) == [("name", REMOVED)]


def test_every_registered_shape_stays_admitted() -> None:
    v2_columns = _with(n=Column("n", "BIGINT")) + (Column("coupon", "VARCHAR"),)
    contract = Contract("demo", (ContractVersion(1, V1), ContractVersion(2, v2_columns)))
    for version, columns in ((1, V1), (2, v2_columns), (1, tuple(reversed(V1)))):
        result = check_schema(contract, columns)
        assert (result.status, result.version) == ("accepted", version)
    # A third shape compatible with both (v2 plus a nullable column) becomes v3.
    v3 = check_schema(contract, v2_columns + (Column("note", "VARCHAR"),))
    assert (v3.status, v3.version) == ("new_version", 3)


def test_type_helpers() -> None:
    assert family("DECIMAL(18,3)") == "decimal" and family("bigint") == "integer"
    assert compare("UINTEGER", "UBIGINT") == "other"
    assert compare("UBIGINT", "UINTEGER") == "narrowing"
    assert compare("BIGINT", "HUGEINT") == "other"


def test_initial_contracts_match_sources_in_duckdb_types() -> None:
    v1, v2 = initial_contract(PURCHASES).versions
    assert [(c.name, c.type) for c in v1.columns] == [
        ("purchase_id", "BIGINT"),
        ("purchased_at", "TIMESTAMP"),
        ("user_id", "BIGINT"),
        ("item_id", "BIGINT"),
        ("quantity", "INTEGER"),
        ("amount", "DOUBLE"),
    ]
    # Contract v2: natural keys are text ("integer key to string key"), event ids stay BIGINT.
    assert [(c.name, c.type) for c in v2.columns][:4] == [
        ("purchase_id", "BIGINT"),
        ("purchased_at", "TIMESTAMP"),
        ("user_id", "VARCHAR"),
        ("item_id", "VARCHAR"),
    ]
    assert v2.changes == ("changed key user_id BIGINT -> VARCHAR", "changed key item_id BIGINT -> VARCHAR")
    users = initial_contract(USERS)
    assert [c.nullable for c in users.versions[0].columns] == [False, False, False]
    assert [c.nullable for c in users.latest.columns] == [False, True, True]


def test_committed_contract_files_are_version_1_of_sources() -> None:
    root = Path(__file__).resolve().parents[2] / "contracts"
    for source in ALL_SOURCES:
        committed = load_contract(contract_path(root, source.name))
        assert committed.versions[0] == initial_contract(source).versions[0], source.name


def test_yml_round_trip_and_malformed_files(tmp_path: Path) -> None:
    path = tmp_path / "demo.yml"
    contract = Contract("demo", (ContractVersion(1, V1, ("first",)), ContractVersion(2, V1 + (Column("z", "DATE"),))))
    save_contract(contract, path)
    assert load_contract(path) == contract
    path.write_text(yaml.safe_dump({"source": "demo", "versions": [{"version": 2, "columns": []}]}))
    with pytest.raises(ValueError, match=r"versions must be 1\.\.n"):
        load_contract(path)
    path.write_text(yaml.safe_dump({"source": "demo"}))
    with pytest.raises(ValueError, match="malformed contract"):
        load_contract(path)


def _write(path: Path, table: pa.Table) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    pq.write_table(table, path)
    return path


QUANTITY_TYPE = pa.int32()


def _purchases(extra: dict[str, pa.Array] | None = None, quantity_type: pa.DataType = QUANTITY_TYPE) -> pa.Table:
    cols = {
        "purchase_id": pa.array([1, 2], pa.int64()),
        "purchased_at": pa.array([0, 1], pa.timestamp("us")),
        "user_id": pa.array([1, 2], pa.int64()),
        "item_id": pa.array([1, 2], pa.int64()),
        "quantity": pa.array([1, 2], quantity_type),
        "amount": pa.array([1.0, 2.0], pa.float64()),
        **(extra or {}),
    }
    return pa.table(cols)


def test_batch_schema_reads_duckdb_types_and_parquet_nullability(tmp_path: Path) -> None:
    schema = pa.schema(
        [pa.field("a", pa.int16(), nullable=False), pa.field("b", pa.decimal128(12, 3)), pa.field("c", pa.string())]
    )
    table = pa.table(
        {"a": pa.array([1], pa.int16()), "b": pa.array([None], pa.decimal128(12, 3)), "c": ["x"]}, schema=schema
    )
    f = _write(tmp_path / "source" / "batch_date=2020-01-01" / "part-00000.parquet", table)
    cols = batch_schema(duckdb.connect(), [f])
    assert cols == (Column("a", "SMALLINT", False), Column("b", "DECIMAL(12,3)", True), Column("c", "VARCHAR", True))


def test_files_of_one_batch_must_agree(tmp_path: Path) -> None:
    f1 = _write(tmp_path / "p1.parquet", _purchases())
    f2 = _write(tmp_path / "p2.parquet", _purchases(quantity_type=pa.int64()))
    with pytest.raises(ValueError, match="disagree"):
        batch_schema(duckdb.connect(), [f1, f2])


def test_check_batch_contract_registers_nothing_and_accepts_registered_versions(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    con = duckdb.connect()
    first = check_batch_contract(con, [_write(tmp_path / "a.parquet", _purchases())], PURCHASES, contracts)
    assert first.status == "accepted" and first.version == 2  # integer keys match v2's text keys

    evolved = _purchases({"coupon": pa.array([None, "X"], pa.string())}, quantity_type=pa.int64())
    second = check_batch_contract(con, [_write(tmp_path / "b.parquet", evolved)], PURCHASES, contracts)
    assert second.status == "new_version" and second.version == 3 and second.new_version is not None
    assert second.new_version.changes == ("widened quantity INTEGER -> BIGINT", "added nullable column coupon VARCHAR")
    assert "accepted as contract v3" in second.message()
    assert not contracts.exists()  # checking never writes a contract file

    # Registered (as ingest does in its catalog), v3 is accepted, and so is the older shape.
    registered = [second.new_version]
    again = check_batch_contract(con, [tmp_path / "b.parquet"], PURCHASES, contracts, registered)
    assert again.status == "accepted" and again.version == 3
    old = check_batch_contract(con, [tmp_path / "a.parquet"], PURCHASES, contracts, registered)
    assert old.status == "accepted" and old.version == 2
    # A new shape that drops the registered coupon column and narrows quantity is rejected.
    dropped = _purchases({"note": pa.array([None, 1], pa.int32())})
    bad = check_batch_contract(con, [_write(tmp_path / "c.parquet", dropped)], PURCHASES, contracts, registered)
    assert sorted((v.column, v.rule) for v in bad.violations) == [("coupon", REMOVED), ("quantity", NARROWING)]
    assert "coupon" in bad.message() and "narrows" in bad.message()


def test_rejected_batch_reports_the_rename(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    renamed = _purchases().rename_columns(["purchase_id", "purchased_at", "user_id", "item_id", "qty", "amount"])
    result = check_batch_contract(duckdb.connect(), [_write(tmp_path / "r.parquet", renamed)], PURCHASES, contracts)
    assert [(v.column, v.rule) for v in result.violations] == [("quantity", RENAMED)]
    assert not contracts.exists()


def test_effective_contract_merges_catalog_versions_and_refuses_conflicts(tmp_path: Path) -> None:
    contracts = tmp_path / "contracts"
    base = initial_contract(PURCHASES)
    v3 = ContractVersion(3, base.latest.columns + (Column("coupon", "VARCHAR"),), ("added nullable column",))
    assert [v.version for v in effective_contract(PURCHASES, contracts, [v3]).versions] == [1, 2, 3]
    # The maintainers adopt v3 in the yml: the catalog's copy is dropped, not duplicated.
    save_contract(base.with_version(v3), contract_path(contracts, "purchases"))
    assert [v.version for v in effective_contract(PURCHASES, contracts, [v3]).versions] == [1, 2, 3]
    # A yml v3 that differs from the v3 accepted at run time is a conflict, named.
    other = ContractVersion(3, base.latest.columns + (Column("note", "VARCHAR"),))
    save_contract(base.with_version(other), contract_path(contracts, "purchases"))
    with pytest.raises(ValueError, match="version 3 differs"):
        effective_contract(PURCHASES, contracts, [v3])


def test_reserved_and_invalid_names_are_violations() -> None:
    contract = Contract("demo", (ContractVersion(1, V1),))
    cases = {
        "event_date": RESERVED_COLUMN,
        "FILENAME": RESERVED_COLUMN,
        "__gate_row_number": RESERVED_COLUMN,
        "__GATE_x": RESERVED_COLUMN,
        "has space": INVALID_COLUMN_NAME,
        "": INVALID_COLUMN_NAME,
        "x" * 65: INVALID_COLUMN_NAME,
        "1abc": INVALID_COLUMN_NAME,
        "Name": DUPLICATE_COLUMN,
    }
    for name, rule in cases.items():
        result = check_schema(contract, V1 + (Column(name, "VARCHAR"),))
        assert [(v.column, v.rule) for v in result.violations] == [(name, rule)], name
    # Legal new names, including the gate's former helper names, are fine.
    for name in ("row_number", "user_id__known", "_gate_cast_ok__amount", "x" * 64, "_private"):
        assert check_schema(contract, V1 + (Column(name, "VARCHAR"),)).status == "new_version", name


def test_integer_keys_may_become_text_only_in_key_columns() -> None:
    old = (Column("user_id", "BIGINT", False), Column("qty", "INTEGER"))
    as_text = (Column("user_id", "VARCHAR", False), Column("qty", "VARCHAR"))
    found = violations(old, as_text, 1, string_keys=("user_id",))
    assert [(v.column, v.rule) for v in found] == [("qty", FAMILY_CHANGE)]  # not a key: still a family change
    back = violations(as_text[:1], old[:1], 1, string_keys=("user_id",))
    assert [(v.column, v.rule) for v in back] == [("user_id", FAMILY_CHANGE)]  # text to integer never
    doubles = violations(old[:1], (Column("user_id", "DOUBLE", False),), 1, string_keys=("user_id",))
    assert [(v.column, v.rule) for v in doubles] == [("user_id", FAMILY_CHANGE)]
    assert "changed key user_id BIGINT -> VARCHAR" in changes(old[:1], as_text[:1])


def test_committed_contracts_hold_v2_with_the_key_allowance() -> None:
    for source in ALL_SOURCES:
        contract = load_contract(contract_path(Path(__file__).resolve().parents[2] / "contracts", source.name))
        assert contract.latest.columns == initial_contract(source).latest.columns, source.name
        for earlier in contract.versions[:-1]:
            found = violations(earlier.columns, contract.latest.columns, earlier.version, source.string_keys)
            assert found == [], (source.name, found)
