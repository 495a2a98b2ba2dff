"""Checks of what the marts mean: similarity range, nothing seen recommended, bounded popularity, reconciled totals.

Each one applies to one mart. It is 'not applicable' when that mart is not among the checked
relations (not built yet, or not being published) or lacks the columns it needs, and it reads
the staging views of the build file for the facts it compares with.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import duckdb

from shop_analytics.checks.core import MAX_EXAMPLES, CheckResult
from shop_analytics.sql import one_row, quote_ident, quote_literal

if TYPE_CHECKING:
    from shop_analytics.warehouse.relations import Relation

NUMERIC = (
    "TINYINT",
    "SMALLINT",
    "INTEGER",
    "BIGINT",
    "HUGEINT",
    "FLOAT",
    "DOUBLE",
    "DECIMAL",
    "UBIGINT",
    "UINTEGER",
    "USMALLINT",
    "UTINYINT",
)
SEEN_EVENTS = ("stg_shop__page_views", "stg_shop__purchases", "stg_shop__ratings")


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    """Column name -> upper-case type of `schema.table` in the build file; empty when it does not exist."""
    rows = con.execute(
        "SELECT column_name, data_type FROM duckdb_columns() WHERE database_name = current_database() "
        f"AND schema_name = {quote_literal(schema)} AND table_name = {quote_literal(table)} ORDER BY column_index"
    ).fetchall()
    return {name: dtype.upper() for name, dtype in rows}


def _is_numeric(dtype: str) -> bool:
    return dtype.split("(")[0] in NUMERIC


def mart_columns(
    name: str, check: str, con: duckdb.DuckDBPyConnection, relations: Sequence[Relation], staging: str | None = None
) -> tuple[dict[str, str], CheckResult | None]:
    """The mart's columns, or 'not applicable' when it is not checked here or it (or `staging`) does not exist."""
    if not any(r.schema == "marts" and r.name == name for r in relations):
        return {}, CheckResult.not_applicable(check, f"marts.{name} is not among the checked relations")
    columns = _columns(con, "marts", name)
    if not columns:
        return {}, CheckResult.not_applicable(check, f"marts.{name} does not exist (yet)")
    if staging and not _columns(con, "staging", staging):
        return {}, CheckResult.not_applicable(check, f"staging.{staging} does not exist (yet)")
    return columns, None


def _bad_rows(con: duckdb.DuckDBPyConnection, name: str, mart: str, query: str, fail: str, ok: str) -> CheckResult:
    """FAIL with the count and a few rows of `query` if it returns any, else PASS with `ok`.

    `fail` and `ok` may name `{n}` (bad rows) and `{total}` (rows of marts.<mart>).
    """
    n = one_row(con, f"SELECT count(*) FROM ({query})")[0]
    total = one_row(con, f"SELECT count(*) FROM marts.{quote_ident(mart)}")[0]
    if n:
        examples = con.execute(f"SELECT * FROM ({query}) ORDER BY ALL LIMIT {MAX_EXAMPLES}").fetchall()
        return CheckResult.failure(name, fail.format(n=n, total=total), n, examples)
    return CheckResult.passed(name, ok.format(n=n, total=total))


@dataclass(frozen=True)
class SimilarityInRange:
    """Every similarity in marts.rpt_user_similarity lies within [-1, 1] and is not NULL or NaN."""

    name: str = "similarities within [-1, 1]"

    def __call__(self, con: duckdb.DuckDBPyConnection, relations: Sequence[Relation]) -> CheckResult:
        """Count rows with a similarity outside [-1, 1], NULL or NaN."""
        cols, skip = mart_columns("rpt_user_similarity", self.name, con, relations)
        if skip:
            return skip
        sims = [c for c, t in cols.items() if "similarity" in c.lower() and _is_numeric(t)]
        if not sims:
            return CheckResult.not_applicable(
                self.name, f"no numeric *similarity* column in marts.rpt_user_similarity (columns: {', '.join(cols)})"
            )
        bad = " OR ".join(f"{q} IS NULL OR isnan({q}::DOUBLE) OR {q} < -1 OR {q} > 1" for q in map(quote_ident, sims))
        names = ", ".join(sims)
        return _bad_rows(
            con,
            self.name,
            "rpt_user_similarity",
            f"SELECT * FROM marts.rpt_user_similarity WHERE {bad}",
            "{n:,} of {total:,} rows have " + names + " outside [-1, 1] or NULL/NaN",
            "{total:,} rows, " + names + " all within [-1, 1]",
        )


@dataclass(frozen=True)
class RecommendationsUnseen:
    """No (user, item) in marts.rpt_recommendations was already viewed, purchased or rated by that user."""

    name: str = "no recommended item already seen"

    def __call__(self, con: duckdb.DuckDBPyConnection, relations: Sequence[Relation]) -> CheckResult:
        """Semi-join the recommendations with every staged event of a known user."""
        recs, skip = mart_columns("rpt_recommendations", self.name, con, relations)
        if skip:
            return skip
        if not {"user_id", "item_id"} <= set(recs):
            return CheckResult.not_applicable(self.name, "marts.rpt_recommendations has no user_id/item_id columns")
        events = [t for t in SEEN_EVENTS if _columns(con, "staging", t)]
        if not events:
            return CheckResult.not_applicable(self.name, "no staging event views to compare with")
        # Keys compared as text: integer-keyed marts, text natural keys in the purchase staging.
        seen = " UNION ".join(
            f"SELECT CAST(user_id AS VARCHAR) AS user_id, CAST(item_id AS VARCHAR) AS item_id "
            f"FROM staging.{t} WHERE user_id IS NOT NULL"
            for t in events
        )
        query = (
            f"SELECT r.user_id, r.item_id FROM marts.rpt_recommendations r "
            f"SEMI JOIN ({seen}) s ON CAST(r.user_id AS VARCHAR) = s.user_id AND CAST(r.item_id AS VARCHAR) = s.item_id"
        )
        sources = ", ".join(events)
        return _bad_rows(
            con,
            self.name,
            "rpt_recommendations",
            query,
            "{n:,} of {total:,} recommendations name an item the user already interacted with (" + sources + ")",
            "{total:,} recommendations, none already seen (" + sources + ")",
        )


@dataclass(frozen=True)
class PopularityBounded:
    """Per-item distinct-user counts in marts.rpt_item_popularity never exceed the number of distinct users."""

    name: str = "popularity counts <= distinct users"

    def __call__(self, con: duckdb.DuckDBPyConnection, relations: Sequence[Relation]) -> CheckResult:
        """Compare every per-user count column with the distinct users of staging."""
        cols, skip = mart_columns("rpt_item_popularity", self.name, con, relations, staging="stg_shop__users")
        if skip:
            return skip
        # Counts of people: viewer_count, buyer_count, ...; view_count counts events, not users.
        counts = [
            c
            for c, t in cols.items()
            if _is_numeric(t)
            and c.lower().endswith(("viewer_count", "buyer_count", "rater_count", "user_count", "users"))
        ]
        if not counts:
            return CheckResult.not_applicable(
                self.name, f"no per-user count column in marts.rpt_item_popularity (columns: {', '.join(cols)})"
            )
        distinct_users = one_row(con, "SELECT count(DISTINCT user_id) FROM staging.stg_shop__users")[0]
        bad = " OR ".join(f"{quote_ident(c)} > {distinct_users} OR {quote_ident(c)} < 0" for c in counts)
        return _bad_rows(
            con,
            self.name,
            "rpt_item_popularity",
            f"SELECT * FROM marts.rpt_item_popularity WHERE {bad}",
            "{n:,} items have " + f"{', '.join(counts)} above the {distinct_users:,} distinct users (or negative)",
            f"{', '.join(counts)} <= {distinct_users:,} distinct users for every item",
        )


@dataclass(frozen=True)
class PurchaseSummaryReconciles:
    """marts.dim_customer_purchase_summary counts equal the staged order lines of the customers it covers."""

    name: str = "purchase summary reconciles with staging"

    def __call__(self, con: duckdb.DuckDBPyConnection, relations: Sequence[Relation]) -> CheckResult:
        """Compare orders and sale lines (currency-free totals) with staging.stg_shop__order_lines."""
        cols, skip = mart_columns(
            "dim_customer_purchase_summary", self.name, con, relations, staging="stg_shop__order_lines"
        )
        if skip:
            return skip
        needed = {"customer_id", "order_count", "cancelled_order_count", "line_count"}
        if not needed <= cols.keys():
            return CheckResult.not_applicable(
                self.name, f"the summary lacks {', '.join(sorted(needed - cols.keys()))} (columns: {', '.join(cols)})"
            )
        mart = one_row(
            con,
            "SELECT coalesce(sum(order_count + cancelled_order_count), 0), coalesce(sum(line_count), 0) "
            "FROM marts.dim_customer_purchase_summary",
        )
        # Sale lines of the customers the summary covers (an order's customer is its lines' customer).
        staged = one_row(
            con,
            "SELECT count(DISTINCT order_id), count(*) FROM staging.stg_shop__order_lines "
            "WHERE line_type = 'sale' AND user_id IN (SELECT customer_id FROM marts.dim_customer_purchase_summary)",
        )
        pairs = list(zip(("orders", "sale lines"), mart, staged, strict=True))
        diffs = [(m, a, b) for m, a, b in pairs if a != b]
        if diffs:
            return CheckResult.failure(
                self.name,
                "totals differ: " + "; ".join(f"{m}: mart {a} vs staging {b}" for m, a, b in diffs),
                len(diffs),
            )
        return CheckResult.passed(self.name, "; ".join(f"{m} = {a:,}" for m, a, _ in pairs))
