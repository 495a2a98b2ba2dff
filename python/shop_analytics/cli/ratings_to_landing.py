"""Bring your own ratings: turn a (user, item, rating, timestamp) file into landing batches.

The recommendation models only need ratings, but the raw data contract also
wants the users and items dimensions and the other fact sources. This writes
one landing batch per source: dimensions derived from the ratings (one
configurable country and category), the ratings themselves, and empty page
view and purchase batches, so `shop-analytics ingest` and `dbt build` run
unchanged.
"""

from __future__ import annotations

import argparse
import sys
from dataclasses import dataclass
from pathlib import Path

import duckdb

from shop_analytics.quality.duckdb_types import duckdb_type_names
from shop_analytics.quality.raw_contract import COMPLETION_MARKER, PAGE_VIEWS, PURCHASES, Source, batch_id_problem
from shop_analytics.sql import one_value, quote_ident, quote_literal

_READERS = {".csv": "read_csv", ".parquet": "read_parquet", ".json": "read_json", ".jsonl": "read_json"}


@dataclass(frozen=True)
class RatingColumns:
    """Names of the four input columns."""

    user: str = "user_id"
    item: str = "item_id"
    rating: str = "rating"
    timestamp: str = "rated_at"


def ratings_to_landing(
    source_file: Path,
    landing: Path,
    columns: RatingColumns = RatingColumns(),
    country_code: str = "US",
    category: str = "books",
    batch_id: str | None = None,
) -> dict[str, int]:
    """Write landing batches for users, items, ratings (+ empty page views, purchases); return row counts."""
    source_file = Path(source_file)
    reader = _READERS.get(source_file.suffix.lower())
    if reader is None:
        raise ValueError(f"{source_file}: expected a .csv, .parquet or .json file")
    if not source_file.exists():
        raise FileNotFoundError(source_file)
    con = duckdb.connect()
    con.execute("SET TimeZone = 'UTC'")
    relation = con.sql(f"SELECT * FROM {reader}(?)", params=[str(source_file)])
    missing = [name for name in vars(columns).values() if name not in relation.columns]
    if missing:
        raise ValueError(f"{source_file}: missing column(s) {missing}; found {relation.columns}")
    con.register("raw_input", relation)
    con.execute(f"""
        CREATE TEMP TABLE input AS
        SELECT
            try_cast({quote_ident(columns.user)} AS BIGINT) AS user_id,
            try_cast({quote_ident(columns.item)} AS BIGINT) AS item_id,
            try_cast({quote_ident(columns.rating)} AS DOUBLE) AS rating,
            try_cast({quote_ident(columns.timestamp)} AS TIMESTAMP) AS rated_at
        FROM raw_input
    """)
    bad = one_value(
        con,
        """
        SELECT count(*) FROM input
        WHERE user_id IS NULL OR item_id IS NULL OR rated_at IS NULL
           OR rating IS NULL OR rating NOT IN (1, 2, 3, 4, 5)
    """,
    )
    if bad:
        raise ValueError(
            f"{source_file}: {bad} row(s) lack an integer user/item id, a timestamp, "
            "or an integer rating 1..5; fix or drop them first"
        )
    total = one_value(con, "SELECT count(*) FROM input")
    if total == 0:
        raise ValueError(f"{source_file}: no ratings")
    batch = batch_id or one_value(con, "SELECT strftime(min(rated_at), '%Y-%m-%d') FROM input")
    problem = batch_id_problem(batch)
    if problem:
        raise ValueError(problem)
    queries = {
        "users": f"""SELECT user_id, {quote_literal(country_code)} AS country_code, min(rated_at) AS signup_at
                     FROM input GROUP BY user_id ORDER BY user_id""",
        "items": f"""SELECT item_id, {quote_literal(category)} AS category, '/items/' || item_id AS page_url_path,
                            1.0::DOUBLE AS price, min(rated_at) AS created_at
                     FROM input GROUP BY item_id ORDER BY item_id""",
        "ratings": """SELECT row_number() OVER (ORDER BY rated_at, user_id, item_id)::BIGINT AS rating_id,
                             rated_at, user_id, item_id, rating::SMALLINT AS rating
                      FROM input ORDER BY rating_id""",
        "page_views": _empty(PAGE_VIEWS),
        "purchases": _empty(PURCHASES),
    }
    counts = {}
    for name, query in queries.items():
        folder = Path(landing) / name / f"batch_date={batch}"
        folder.mkdir(parents=True, exist_ok=True)
        target = folder / "part-0.parquet"
        con.execute(f"COPY ({query}) TO {quote_literal(str(target))} (FORMAT parquet)")
        counts[name] = one_value(con, f"SELECT count(*) FROM read_parquet({quote_literal(str(target))})")
        (folder / COMPLETION_MARKER).touch()  # last: the batch is complete
    return counts


def _empty(source: Source) -> str:
    types = duckdb_type_names(source.schema)
    cols = ", ".join(f"NULL::{t} AS {f.name}" for f, t in zip(source.schema, types, strict=True))
    return f"SELECT {cols} WHERE false"


def register(subparsers: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    """Add the `ratings-to-landing` subcommand to the `shop-analytics` parser."""
    parser = subparsers.add_parser(
        "ratings-to-landing", help="turn a (user, item, rating, timestamp) file into landing batches"
    )
    _arguments(parser)
    parser.set_defaults(run=_run)


def _arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("ratings_file", type=Path, help=".csv, .parquet or .json with one rating per row")
    parser.add_argument("--landing", type=Path, required=True, help="landing folder to write into")
    for name, default in vars(RatingColumns()).items():
        parser.add_argument(
            f"--{name}-column",
            default=default,
            dest=f"{name}_column",
            help=f"input column holding the {name} (default {default})",
        )
    parser.add_argument("--country", default="US", help="country_code given to every user (default US)")
    parser.add_argument("--category", default="books", help="category given to every item (default books)")
    parser.add_argument("--batch-id", help="batch id (default: date of the earliest rating)")


def _run(args: argparse.Namespace) -> int:
    columns = RatingColumns(args.user_column, args.item_column, args.rating_column, args.timestamp_column)
    counts = ratings_to_landing(args.ratings_file, args.landing, columns, args.country, args.category, args.batch_id)
    for name, rows in counts.items():
        print(f"  {name:<11} {rows:>12,} rows")
    return 0


def main(argv: list[str] | None = None) -> int:
    """Standalone entry point: python -m shop_analytics.cli.ratings_to_landing FILE --landing DIR."""
    parser = argparse.ArgumentParser(prog="python -m shop_analytics.cli.ratings_to_landing", description=__doc__)
    _arguments(parser)
    args = parser.parse_args(argv)
    try:
        return _run(args)
    except (ValueError, FileNotFoundError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2


if __name__ == "__main__":
    sys.exit(main())
