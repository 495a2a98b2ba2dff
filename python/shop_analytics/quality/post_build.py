"""Post-build checks on the marts, run after dbt has finished and released the warehouse file.

Each check reads the marts and staging through a read-only connection and returns a
CheckResult: 'pass', 'fail' (with the offending count and a few examples) or
'not applicable' when the mart (or the column it needs) does not exist, so the checks
can run while marts are still being added. `shop-analytics check` prints the report
and exits non-zero on any failure; publishing runs the same function first.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import duckdb

PASS, FAIL, NOT_APPLICABLE = "pass", "fail", "not applicable"
NUMERIC = ("TINYINT", "SMALLINT", "INTEGER", "BIGINT", "HUGEINT", "FLOAT", "DOUBLE", "DECIMAL", "UBIGINT",
           "UINTEGER", "USMALLINT", "UTINYINT")
_EXAMPLES = 5
_MONEY_TOLERANCE = 0.01  # cents: sums of DECIMAL(12,2) amounts must match exactly up to rounding


@dataclass(frozen=True)
class CheckResult:
    """The outcome of one post-build check."""

    name: str
    status: str  # PASS, FAIL or NOT_APPLICABLE
    detail: str
    examples: tuple[tuple, ...] = field(default=())

    @property
    def failed(self) -> bool:
        """True when the check ran and found a problem."""
        return self.status == FAIL


def _columns(con: duckdb.DuckDBPyConnection, schema: str, table: str) -> dict[str, str]:
    rows = con.execute("SELECT column_name, data_type FROM information_schema.columns "
                       "WHERE table_schema = ? AND table_name = ? ORDER BY ordinal_position",
                       [schema, table]).fetchall()
    return {name: dtype.upper() for name, dtype in rows}


def _is_numeric(dtype: str) -> bool:
    return dtype.split("(")[0] in NUMERIC


def _missing(name: str, *relations: tuple[str, str, dict[str, str]]) -> CheckResult | None:
    for schema, table, cols in relations:
        if not cols:
            return CheckResult(name, NOT_APPLICABLE, f"{schema}.{table} does not exist (yet)")
    return None


def _bad_rows(con: duckdb.DuckDBPyConnection, name: str, query: str, fail: str, ok: str) -> CheckResult:
    """FAIL with the count and a few rows of `query` if it returns any rows, else PASS with `ok`."""
    n = con.execute(f"SELECT count(*) FROM ({query})").fetchone()[0]
    if n:
        examples = con.execute(f"SELECT * FROM ({query}) ORDER BY ALL LIMIT {_EXAMPLES}").fetchall()
        return CheckResult(name, FAIL, fail.format(n=n), tuple(examples))
    return CheckResult(name, PASS, ok)


def check_similarity_range(con: duckdb.DuckDBPyConnection) -> CheckResult:
    """Every similarity in marts.rpt_user_similarity lies within [-1, 1] and is not NULL/NaN."""
    name = "similarities within [-1, 1]"
    cols = _columns(con, "marts", "rpt_user_similarity")
    if (missing := _missing(name, ("marts", "rpt_user_similarity", cols))):
        return missing
    sims = [c for c, t in cols.items() if "similarity" in c.lower() and _is_numeric(t)]
    if not sims:
        return CheckResult(name, NOT_APPLICABLE, f"no numeric *similarity* column in marts.rpt_user_similarity "
                                                 f"(columns: {', '.join(cols)})")
    bad = " OR ".join(f'"{c}" IS NULL OR isnan("{c}"::DOUBLE) OR "{c}" < -1 OR "{c}" > 1' for c in sims)
    total = con.execute("SELECT count(*) FROM marts.rpt_user_similarity").fetchone()[0]
    return _bad_rows(con, name, f"SELECT * FROM marts.rpt_user_similarity WHERE {bad}",
                     f"{{n:,}} of {total:,} rows have {', '.join(sims)} outside [-1, 1] or NULL/NaN",
                     f"{total:,} rows, {', '.join(sims)} all within [-1, 1]")


def check_recommendations_unseen(con: duckdb.DuckDBPyConnection) -> CheckResult:
    """No (user, item) in marts.rpt_recommendations was already viewed, purchased or rated by that user."""
    name = "no recommended item already seen"
    recs = _columns(con, "marts", "rpt_recommendations")
    if (missing := _missing(name, ("marts", "rpt_recommendations", recs))):
        return missing
    if not {"user_id", "item_id"} <= set(recs):
        return CheckResult(name, NOT_APPLICABLE, "marts.rpt_recommendations has no user_id/item_id columns")
    events = [t for t in ("stg_shop__page_views", "stg_shop__purchases", "stg_shop__ratings")
              if _columns(con, "staging", t)]
    if not events:
        return CheckResult(name, NOT_APPLICABLE, "no staging event views to compare with")
    seen = " UNION ".join(f"SELECT user_id, item_id FROM staging.{t} WHERE user_id IS NOT NULL" for t in events)
    query = (f"SELECT r.user_id, r.item_id FROM marts.rpt_recommendations r "
             f"SEMI JOIN ({seen}) s ON r.user_id = s.user_id AND r.item_id = s.item_id")
    total = con.execute("SELECT count(*) FROM marts.rpt_recommendations").fetchone()[0]
    return _bad_rows(con, name, query, f"{{n:,}} of {total:,} recommendations name an item the user already "
                                       f"interacted with ({', '.join(events)})",
                     f"{total:,} recommendations, none already seen ({', '.join(events)})")


def check_popularity_bounded(con: duckdb.DuckDBPyConnection) -> CheckResult:
    """Per-item distinct-user counts in marts.rpt_item_popularity never exceed the number of distinct users."""
    name = "popularity counts <= distinct users"
    cols = _columns(con, "marts", "rpt_item_popularity")
    users = _columns(con, "staging", "stg_shop__users")
    if (missing := _missing(name, ("marts", "rpt_item_popularity", cols), ("staging", "stg_shop__users", users))):
        return missing
    # Counts of people: viewer_count, buyer_count, ...; view_count counts events, not users.
    counts = [c for c, t in cols.items() if _is_numeric(t) and c.lower().endswith(("viewer_count", "buyer_count",
                                                                                 "rater_count", "user_count",
                                                                                 "users"))]
    if not counts:
        return CheckResult(name, NOT_APPLICABLE, f"no per-user count column in marts.rpt_item_popularity "
                                                 f"(columns: {', '.join(cols)})")
    distinct_users = con.execute("SELECT count(DISTINCT user_id) FROM staging.stg_shop__users").fetchone()[0]
    bad = " OR ".join(f'"{c}" > {distinct_users} OR "{c}" < 0' for c in counts)
    return _bad_rows(con, name, f"SELECT * FROM marts.rpt_item_popularity WHERE {bad}",
                     f"{{n:,}} items have {', '.join(counts)} above the {distinct_users:,} distinct users "
                     f"(or negative)", f"{', '.join(counts)} <= {distinct_users:,} distinct users for every item")


def check_purchase_summary_reconciles(con: duckdb.DuckDBPyConnection) -> CheckResult:
    """marts.dim_customer_purchase_summary totals equal staging purchases of known customers."""
    name = "purchase summary reconciles with staging"
    cols = _columns(con, "marts", "dim_customer_purchase_summary")
    purchases = _columns(con, "staging", "stg_shop__purchases")
    if (missing := _missing(name, ("marts", "dim_customer_purchase_summary", cols),
                            ("staging", "stg_shop__purchases", purchases))):
        return missing
    pairs = [(m, s) for m, s in (("purchase_count", "count(*)"), ("total_amount", "sum(amount)"),
                                 ("total_quantity", "sum(quantity)")) if m in cols]
    key = "customer_id" if "customer_id" in cols else "user_id" if "user_id" in cols else None
    if not pairs or key is None:
        return CheckResult(name, NOT_APPLICABLE, f"no customer key or total columns in the summary "
                                                 f"(columns: {', '.join(cols)})")
    mart = con.execute(f"SELECT {', '.join(f'coalesce(sum({m}), 0)' for m, _ in pairs)} "
                       f"FROM marts.dim_customer_purchase_summary").fetchone()
    # Only purchases of customers the summary covers: it may leave out unknown users.
    staged = con.execute(
        f"SELECT {', '.join(f'coalesce({s}, 0)' for _, s in pairs)} FROM staging.stg_shop__purchases p "
        f"WHERE p.user_id IN (SELECT {key} FROM marts.dim_customer_purchase_summary)").fetchone()
    diffs = [(m, a, b) for (m, _), a, b in zip(pairs, mart, staged) if abs(float(a) - float(b)) > _MONEY_TOLERANCE]
    if diffs:
        text = "; ".join(f"{m}: mart {a} vs staging {b}" for m, a, b in diffs)
        return CheckResult(name, FAIL, f"totals differ: {text}")
    return CheckResult(name, PASS, "; ".join(f"{m} = {a}" for (m, _), a in zip(pairs, mart)))


CHECKS: tuple[Callable[[duckdb.DuckDBPyConnection], CheckResult], ...] = (
    check_similarity_range, check_recommendations_unseen, check_popularity_bounded,
    check_purchase_summary_reconciles,
)


def post_build_checks(con: duckdb.DuckDBPyConnection) -> list[CheckResult]:
    """Run every post-build check on a (read-only) connection to the built warehouse."""
    results = []
    for check in CHECKS:
        try:
            results.append(check(con))
        except duckdb.Error as exc:  # a mart that exists but cannot be read is a failure, not a skip
            results.append(CheckResult(check.__doc__ or check.__name__, FAIL, f"query failed: {exc}"))
    return results


def run_checks(warehouse: Path) -> list[CheckResult]:
    """Open `warehouse` read-only (dbt must have finished) and run the checks."""
    if not Path(warehouse).exists():
        raise FileNotFoundError(f"warehouse {warehouse} not found; run `dbt build` first")
    con = duckdb.connect(str(warehouse), read_only=True)
    try:
        return post_build_checks(con)
    finally:
        con.close()


def format_report(results: list[CheckResult]) -> str:
    """A readable multi-line report."""
    lines = []
    for r in results:
        lines.append(f"[{r.status.upper():^14}] {r.name}: {r.detail}")
        lines += [f"{'':17}e.g. {row}" for row in r.examples]
    failed = sum(r.failed for r in results)
    lines.append(f"{len(results)} checks: {sum(r.status == PASS for r in results)} passed, {failed} failed, "
                 f"{sum(r.status == NOT_APPLICABLE for r in results)} not applicable")
    return "\n".join(lines)
