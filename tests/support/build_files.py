"""Hand-made build files: a few relations like dbt's, and build-marker rows as macros/build_marker.sql writes them."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import duckdb

NODES = 10


def record_invocation(
    build: Path,
    command: str = "build",
    status: str = "finished",
    *,
    nodes_run: int = NODES,
    failed: int = 0,
    skipped: int = 0,
    warned: int = 0,
    problems: str = "",
    select: list[str] | None = None,
    empty: bool = False,
) -> None:
    """Append one invocation row; the defaults describe a complete, passing `dbt build` of NODES nodes."""
    selection = {
        "select": select or [],
        "exclude": [],
        "selector": None,
        "resource_types": None,
        "exclude_resource_types": None,
        "empty": empty,
        "sample": None,
        "full_refresh": False,
    }
    finished = status == "finished"
    with duckdb.connect(str(build)) as con:
        con.execute("""
            CREATE SCHEMA IF NOT EXISTS _shop_meta;
            CREATE TABLE IF NOT EXISTS _shop_meta.dbt_invocations (
                seq BIGINT NOT NULL, invocation_id VARCHAR NOT NULL, command VARCHAR NOT NULL,
                selection VARCHAR NOT NULL, dbt_version VARCHAR NOT NULL, target_name VARCHAR NOT NULL,
                started_at TIMESTAMP NOT NULL, finished_at TIMESTAMP, status VARCHAR NOT NULL,
                nodes_in_project INTEGER, nodes_run INTEGER, succeeded INTEGER, warned INTEGER, failed INTEGER,
                skipped INTEGER, problems VARCHAR)""")
        con.execute(
            "INSERT INTO _shop_meta.dbt_invocations SELECT coalesce(max(seq), 0) + 1, ?, ?, ?, '1.11', 'test', "
            "now()::TIMESTAMP, CASE WHEN ? THEN now()::TIMESTAMP END, ?, ?, ?, ?, ?, ?, ?, ? "
            "FROM _shop_meta.dbt_invocations",
            [
                str(uuid.uuid4()),
                command,
                json.dumps(selection),
                finished,
                status,
                NODES if finished else None,
                nodes_run if finished else None,
                nodes_run - failed - skipped - warned if finished else None,
                warned if finished else None,
                failed if finished else None,
                skipped if finished else None,
                problems if finished else None,
            ],
        )


def make_build(path: Path, marts_rows: int = 50) -> Path:
    """A build file like dbt's after a complete build: a mart table, a seed, a staging view over Parquet, an
    intermediate view, a dbt leftover, and the marker row of a passing `dbt build`."""
    lake = path.parent / "lake.parquet"
    duckdb.sql(f"COPY (SELECT range AS id, range * 1.5 AS amount FROM range(30)) TO '{lake}' (FORMAT parquet)")
    path.unlink(missing_ok=True)
    with duckdb.connect(str(path)) as con:
        for schema in ("marts", "reference", "staging", "intermediate"):
            con.execute(f"CREATE SCHEMA {schema}")
        con.execute(
            f"CREATE TABLE marts.fct_orders AS SELECT range AS order_id, range % 3 AS shop, "
            f"range / 7.0 AS revenue, DATE '2017-01-01' + range::INT AS order_date FROM range({marts_rows})"
        )
        con.execute("COMMENT ON TABLE marts.fct_orders IS 'one row per order'")
        con.execute("COMMENT ON COLUMN marts.fct_orders.revenue IS 'order revenue in EUR'")
        con.execute("CREATE TABLE reference.countries AS SELECT * FROM (VALUES ('US'), ('DE')) t(country_code)")
        con.execute(f"CREATE VIEW staging.stg_lake AS SELECT * FROM read_parquet('{lake}')")
        con.execute("CREATE VIEW intermediate.int_x AS SELECT 1 AS x")
        con.execute("CREATE TABLE marts.fct_orders__dbt_backup AS SELECT 1 AS leftover")
    record_invocation(path)
    return path


# Staging and marts small enough to reason about by hand, consistent for every domain check.
STAGING = """
CREATE SCHEMA staging; CREATE SCHEMA marts;
CREATE TABLE staging.stg_shop__users AS SELECT * FROM (VALUES (1, 'US'), (2, 'DE'), (3, 'FR')) t(user_id, country_code);
CREATE TABLE staging.stg_shop__page_views AS SELECT * FROM (VALUES (1, 10), (2, 10), (NULL, 11)) t(user_id, item_id);
CREATE TABLE staging.stg_shop__purchases AS
    SELECT * FROM (VALUES (1, 10, 2, 5.50::DECIMAL(12,2)), (1, 12, 1, 3.00), (2, 10, 1, 5.50))
        t(user_id, item_id, quantity, amount);
CREATE TABLE staging.stg_shop__ratings AS SELECT * FROM (VALUES (3, 13, 4)) t(user_id, item_id, rating);
CREATE TABLE staging.stg_shop__order_lines AS
    SELECT * FROM (VALUES ('1', 'O1', 'sale'), ('1', 'O1', 'sale'), ('2', 'O2', 'sale'), ('2', 'C-O2', 'cancellation'),
                          (NULL, 'O3', 'sale'))
        t(user_id, order_id, line_type);
"""
GOOD_MARTS = """
CREATE TABLE marts.rpt_user_similarity AS
    SELECT * FROM (VALUES (1, 2, 0.5::DOUBLE), (2, 1, -1.0)) t(user_id, neighbour_id, similarity);
CREATE TABLE marts.rpt_recommendations AS SELECT * FROM (VALUES (1, 11, 1), (3, 10, 1)) t(user_id, item_id, rank);
CREATE TABLE marts.rpt_item_popularity AS
    SELECT * FROM (VALUES (10, 2, 2), (11, 0, 1)) t(item_id, viewer_count, view_count);
CREATE TABLE marts.dim_customer_purchase_summary AS
    SELECT * FROM (VALUES ('1', 1, 0, 2, 8.50::DECIMAL(18,4)), ('2', 0, 1, 1, 0.00))
        t(customer_id, order_count, cancelled_order_count, line_count, net_amount);
CREATE TABLE marts.fct_orders AS
    SELECT * FROM (VALUES ('O1', 3, 0, 0, false), ('O2', 1, 1, 0, false), ('O3', 1, 0, 0, false))
        t(order_id, quantity, cancelled_quantity, returned_quantity, is_over_reversed);
CREATE TABLE marts.dim_customers AS
    SELECT * FROM (VALUES ('1', 'US', 'valid'), ('2', 'UK', 'alias')) t(customer_id, country_raw, country_status);
CREATE TABLE marts.fct_order_lines AS
    SELECT * FROM (VALUES ('USD', DATE '2021-03-28', false)) t(currency, activity_date, is_missing_rate);
"""


def make_marts_build(path: Path, breakage: str | None = None) -> Path:
    """A build file with STAGING and GOOD_MARTS (optionally broken by one statement) after a passing build."""
    with duckdb.connect(str(path)) as con:
        con.execute(STAGING)
        con.execute(GOOD_MARTS)
        if breakage:
            con.execute(breakage)
    record_invocation(path)
    return path
