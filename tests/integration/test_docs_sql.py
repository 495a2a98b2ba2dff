"""Every SQL example in the README and docs/ runs as written on a built warehouse.

The examples are read from the Markdown (```sql blocks), so a renamed column or model breaks this
test, not a reader. They run on the build file, which holds every schema a page may show (staging and
intermediate only live there), with the project's UDFs registered as dbt registers them.
"""

from __future__ import annotations

import re

import duckdb
import pytest

from shop_analytics.dbt.udfs import register_udfs
from support.pipeline import ROOT, Warehouse

PAGES = [ROOT / "README.md", *sorted((ROOT / "docs").glob("*.md"))]
SQL_BLOCK = re.compile(r"```sql\n(.*?)```", flags=re.DOTALL)


def _examples() -> list[tuple[str, int, str]]:
    found = []
    for page in PAGES:
        for number, block in enumerate(SQL_BLOCK.findall(page.read_text()), start=1):
            found.append((str(page.relative_to(ROOT)), number, block))
    return found


EXAMPLES = _examples()


def test_the_docs_show_sql_examples() -> None:
    assert len(EXAMPLES) >= 5, f"only {len(EXAMPLES)} SQL examples found in README.md and docs/"


@pytest.fixture(scope="module")
def con(warehouse: Warehouse) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(warehouse.path), read_only=True)
    register_udfs(connection)
    return connection


@pytest.mark.parametrize(("page", "number", "sql"), EXAMPLES, ids=[f"{p}#{n}" for p, n, _ in EXAMPLES])
def test_sql_example_runs(con: duckdb.DuckDBPyConnection, page: str, number: int, sql: str) -> None:
    statements = duckdb.extract_statements(sql)
    assert statements, f"{page} SQL block {number} holds no statement"
    for statement in statements:
        try:
            con.execute(statement).fetchall()
        except duckdb.Error as exc:
            pytest.fail(f"{page} SQL block {number} fails: {exc}\n{statement.query}")
