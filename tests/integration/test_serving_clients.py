"""The published warehouse through real clients: the duckdb shell, SQLAlchemy as Superset uses it, and
the refusals of the safe read-only settings."""

from __future__ import annotations

import csv
import io
import os
import subprocess
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest
import sqlalchemy as sa
from sqlalchemy.pool import NullPool

from shop_analytics.publish import (
    ServingLayout,
    connect_serving,
    publish,
    shell_command,
    sqlalchemy_connect_args,
    sqlalchemy_url,
)

DUCKDB_BIN = Path(sys.executable).parent / "duckdb"
SCHEMAS = ("marts", "reference", "staging")
FINGERPRINT = "SELECT count(*), coalesce(sum(hash(t)::HUGEINT), 0) FROM {} t"  # order-free; 0 when empty


@dataclass(frozen=True)
class Served:
    """A publish of the dbt-built test warehouse, and what its build file holds (computed apart)."""

    layout: ServingLayout
    expected: dict[str, tuple[int, int]]  # "schema.table" -> (rows, fingerprint) read from the build file
    columns: dict[str, list[tuple[str, str]]]  # "schema.table" -> [(column, DuckDB type)]


@pytest.fixture(scope="module")
def served(warehouse, tmp_path_factory: pytest.TempPathFactory) -> Served:
    layout = ServingLayout(tmp_path_factory.mktemp("serving"))
    with duckdb.connect(str(warehouse.path), read_only=True) as con:
        names = [
            f"{s}.{t}"
            for s, t in con.execute(
                "SELECT table_schema, table_name FROM information_schema.tables WHERE table_schema IN "
                f"{SCHEMAS} AND table_catalog = current_database() AND NOT table_name LIKE '%__dbt_%' ORDER BY 1, 2"
            ).fetchall()
        ]
        expected = {n: con.execute(FINGERPRINT.format(n)).fetchone() for n in names}
        columns = {
            n: con.execute(
                "SELECT column_name, data_type FROM information_schema.columns "
                "WHERE table_catalog = current_database() AND table_schema || '.' || table_name = ? "
                "ORDER BY ordinal_position",
                [n],
            ).fetchall()
            for n in names
        }
    publish(warehouse.path, layout, schemas=SCHEMAS, progress=False)
    assert expected, "the test warehouse has nothing to publish"
    return Served(layout, expected, columns)


# --- plain tables: the real duckdb shell, no project code, no lake access --------------------------


def shell(served: Served, sql: str, cwd: Path) -> subprocess.CompletedProcess:
    """Run the recommended read-only, safe shell command with no project code on any path."""
    command = shell_command(served.layout.serving_file, str(DUCKDB_BIN))
    env = {"PATH": "/usr/bin:/bin", "HOME": str(cwd)}
    return subprocess.run(
        [command[0], "-csv", *command[1:], "-c", sql], capture_output=True, text=True, cwd=cwd, env=env, timeout=120
    )


def test_duckdb_shell_reads_every_table_as_a_plain_table(served: Served, tmp_path: Path) -> None:
    listing = shell(
        served,
        "SELECT table_schema || '.' || table_name, table_type FROM information_schema.tables "
        "WHERE table_schema <> 'main' ORDER BY 1",
        tmp_path,
    )
    assert listing.returncode == 0, listing.stderr
    rows = list(csv.reader(io.StringIO(listing.stdout)))[1:]
    assert rows == [[name, "BASE TABLE"] for name in sorted(served.expected)]
    # External access is off in this shell, so a table that still read the lake would fail here.
    union = " UNION ALL ".join(f"SELECT '{n}', * FROM ({FINGERPRINT.format(n)})" for n in served.expected)
    result = shell(served, union, tmp_path)
    assert result.returncode == 0, result.stderr
    found = {name: (int(rows), int(fp)) for name, rows, fp in list(csv.reader(io.StringIO(result.stdout)))[1:]}
    assert found == served.expected


def test_publication_table_describes_the_file(served: Served, tmp_path: Path) -> None:
    result = shell(served, "SELECT table_schema || '.' || table_name, row_count, version FROM _publication", tmp_path)
    assert result.returncode == 0, result.stderr
    rows = list(csv.reader(io.StringIO(result.stdout)))[1:]
    assert {name: int(count) for name, count, _ in rows} == {n: v[0] for n, v in served.expected.items()}
    assert {version for *_, version in rows} == {"1"}


# --- SQLAlchemy + duckdb-engine, exactly as Superset connects ----------------------------------------


@pytest.fixture(scope="module")
def engine(served: Served) -> sa.Engine:
    # Superset: SQLAlchemy URI duckdb:///<path>, engine parameters {"connect_args": {...}}; NullPool so a
    # new publication is seen by the next query (DuckDB shares one instance per file per process).
    engine = sa.create_engine(
        sqlalchemy_url(served.layout.serving_file), connect_args=sqlalchemy_connect_args(), poolclass=NullPool
    )
    yield engine
    engine.dispose()


def test_sqlalchemy_reflects_schemas_tables_columns_and_types(served: Served, engine: sa.Engine) -> None:
    inspector = sa.inspect(engine)
    schemas = {s.split(".")[-1] for s in inspector.get_schema_names()}
    published = {name.split(".")[0] for name in served.expected}
    assert published <= schemas
    for schema in published:
        assert sorted(inspector.get_table_names(schema=schema)) == sorted(
            n.split(".")[1] for n in served.expected if n.startswith(f"{schema}.")
        )
    for name, columns in served.columns.items():
        schema, table = name.split(".")
        reflected = inspector.get_columns(table, schema=schema)
        assert [c["name"] for c in reflected] == [c for c, _ in columns]
        for column, (_, duck_type) in zip(reflected, columns, strict=True):
            assert not isinstance(column["type"], sa.types.NullType), f"{name}.{column['name']}: {duck_type}"
    first = next(iter(served.expected)).split(".")
    assert inspector.get_indexes(first[1], schema=first[0]) == []
    assert inspector.get_view_names(schema=first[0]) == []


def _dimension_and_measure(columns: list[dict]) -> tuple[dict | None, dict | None]:
    dims = [c for c in columns if isinstance(c["type"], (sa.String, sa.Date, sa.Boolean, sa.SmallInteger))]
    measures = [
        c
        for c in columns
        if isinstance(c["type"], (sa.Numeric, sa.Float, sa.Integer)) and not isinstance(c["type"], sa.SmallInteger)
    ]
    return (dims[0] if dims else None), (measures[-1] if measures else None)


def test_dashboard_style_aggregate_on_every_table(served: Served, engine: sa.Engine) -> None:
    # Superset builds chart queries from the dataset's reflected columns (get_columns), not from
    # Table autoload: a GROUP BY on a dimension with count and sum, biggest groups first.
    inspector = sa.inspect(engine)
    with engine.connect() as con:
        for name, (rows, _) in served.expected.items():
            schema, table_name = name.split(".")
            columns = inspector.get_columns(table_name, schema=schema)
            table = sa.table(table_name, *(sa.column(c["name"], c["type"]) for c in columns), schema=schema)
            dim, measure = _dimension_and_measure(columns)
            metrics = [sa.func.count().label("n")]
            if measure is not None:
                metrics.append(sa.func.sum(table.c[measure["name"]]).label("total"))
            query = sa.select(*([table.c[dim["name"]]] if dim else []), *metrics).select_from(table)
            if dim is not None:
                query = query.group_by(table.c[dim["name"]]).order_by(sa.desc("n"))
            result = con.execute(query).all()
            assert sum(r.n for r in result) == rows, name
            if dim is not None:
                assert len({r[0] for r in result}) == len(result)  # one row per dimension value


@pytest.mark.xfail(
    strict=True,
    raises=sa.exc.ProgrammingError,
    reason="duckdb-engine 0.17 reflects keys with a REGCLASS cast that DuckDB 1.5 lacks; "
    "published tables have no keys, Superset datasets use get_columns",
)
def test_sqlalchemy_key_reflection(served: Served, engine: sa.Engine) -> None:
    name = next(iter(served.expected))
    schema, table = name.split(".")
    assert sa.inspect(engine).get_pk_constraint(table, schema=schema)["constrained_columns"] == []


# --- read-only and safe: every attempt is refused with a clear message ------------------------------

REFUSALS = {
    "CREATE": ("CREATE TABLE marts_copy AS SELECT 1 AS x", "read-only mode"),
    "CREATE SCHEMA": ("CREATE SCHEMA scratch", "read-only mode"),
    "INSERT": ("INSERT INTO _publication SELECT * FROM _publication", "read-only mode"),
    "UPDATE": ("UPDATE _publication SET row_count = 0", "read-only mode"),
    "DROP": ("DROP TABLE _publication", "read-only mode"),
    "COPY TO": ("COPY (SELECT 1 AS x) TO '{tmp}/leak.csv'", "file system operations are disabled"),
    "EXPORT DATABASE": ("EXPORT DATABASE '{tmp}/dump'", "file system operations are disabled"),
    "ATTACH": ("ATTACH '{tmp}/other.duckdb' AS other", "file system operations are disabled"),
    "read_csv": ("SELECT * FROM read_csv('/etc/passwd')", "file system operations are disabled"),
    "read_text": ("SELECT * FROM read_text('/etc/passwd')", "file system operations are disabled"),
    "glob": ("SELECT * FROM glob('/*')", "file system operations are disabled"),
    "INSTALL": ("INSTALL httpfs", "file system operations are disabled"),
    "LOAD": ("LOAD httpfs", "Loading external extensions is disabled"),
    "SET enable_external_access": ("SET enable_external_access = true", "the configuration has been locked"),
    "SET threads": ("SET threads = 1", "the configuration has been locked"),
    "RESET lock_configuration": ("RESET lock_configuration", "the configuration has been locked"),
}


@pytest.mark.parametrize("operation", list(REFUSALS))
def test_python_reader_refuses(served: Served, tmp_path: Path, operation: str) -> None:
    sql, message = REFUSALS[operation]
    with connect_serving(served.layout.serving_file) as con:
        with pytest.raises(duckdb.Error, match=message):
            con.execute(sql.format(tmp=tmp_path))
        assert con.execute("SELECT count(*) FROM _publication").fetchone()[0] == len(served.expected)
    assert list(tmp_path.iterdir()) == []  # nothing was written


def test_shell_refuses_the_same(served: Served, tmp_path: Path) -> None:
    for operation, (sql, message) in REFUSALS.items():
        result = shell(served, sql.format(tmp=tmp_path), tmp_path)
        assert result.returncode != 0 and message in result.stderr, (operation, result.stderr)
    assert sorted(p.name for p in tmp_path.iterdir()) == []


def test_sqlalchemy_engine_refuses_writes_and_file_access(engine: sa.Engine, tmp_path: Path) -> None:
    for operation in ("CREATE", "INSERT", "COPY TO", "read_csv", "SET threads"):
        sql, message = REFUSALS[operation]
        with engine.connect() as con, pytest.raises(sa.exc.DBAPIError, match=message):
            con.execute(sa.text(sql.format(tmp=tmp_path)))


def test_serving_file_has_no_wal_and_is_not_the_build_file(served: Served, warehouse) -> None:
    assert not Path(f"{served.layout.serving_file}.wal").exists()
    assert not served.layout.serving_file.samefile(warehouse.path)
    assert os.access(served.layout.serving_file, os.R_OK)
