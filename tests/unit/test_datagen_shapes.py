"""Landing files are in the raw contract v2 shapes: columns and types, batch settings, markers, options."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pyarrow.csv as pacsv
import pyarrow.parquet as pq
import pytest
import yaml

from shop_analytics.datagen import GeneratorConfig, generate
from support.datagen_landing import landing_connection

# contract_v2 section 1, written out again: column -> Arrow type name.
V2_COLUMNS = {
    "users": {"user_id": "string", "country_code": "string", "signup_at": "timestamp[us]"},
    "items": {
        "item_id": "string",
        "name": "string",
        "category": "string",
        "page_url_path": "string",
        "price": "double",
        "price_currency": "string",
        "created_at": "timestamp[us]",
    },
    "page_views": {"page_view_id": "int64", "viewed_at": "timestamp[us]", "user_id": "string", "item_id": "string"},
    "order_lines": {
        "order_id": "string",
        "line_number": "int32",
        "ordered_at": "timestamp[us]",
        "user_id": "string",
        "item_id": "string",
        "quantity": "int32",
        "unit_price": "double",
        "line_amount": "double",
        "currency": "string",
        "line_type": "string",
        "original_order_id": "string",
        "original_line_number": "int32",
    },
    "exchange_rates": {"rate_date": "date32[day]", "currency": "string", "base_currency": "string", "rate": "double"},
}
V1_PURCHASES = {
    "purchase_id": "int64",
    "purchased_at": "timestamp[us]",
    "user_id": "int64",
    "item_id": "int64",
    "quantity": "int32",
    "amount": "double",
}
SMALL = GeneratorConfig(scale=0.01, seed=5, chunk_rows=5_000)


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict]:
    out = tmp_path_factory.mktemp("datagen_shapes") / "landing"
    return out, generate(SMALL, out, progress=False)


def _columns(path: Path) -> dict[str, str]:
    return {f.name: str(f.type) for f in pq.read_schema(path)}


@pytest.mark.parametrize("source", sorted(V2_COLUMNS))
def test_parquet_sources_have_the_v2_columns_and_types(landing, source: str) -> None:
    out, _ = landing
    files = sorted((out / source).glob("*/*.parquet"))
    assert files
    for path in files:
        assert _columns(path) == V2_COLUMNS[source], path


def test_ratings_are_csv_with_epoch_seconds_and_say_so(landing) -> None:
    out, manifest = landing
    batches = sorted((out / "ratings").iterdir())
    assert batches and not list((out / "ratings").glob("*/*.parquet"))
    for batch in batches:
        settings = yaml.safe_load((batch / "_batch.yml").read_text())
        assert settings == {"timestamp_format": "epoch_s", "time_zone": "UTC"}
    table = pacsv.read_csv(next(batches[3].glob("*.csv")))
    assert table.column_names == ["rating_id", "rated_at", "user_id", "item_id", "rating"]
    assert str(table.schema.field("rated_at").type) == "int64"  # whole seconds, no text timestamps
    seconds = table.column("rated_at").to_pylist()
    in_batch = [
        s
        for s in seconds
        if dt.datetime.fromtimestamp(s, dt.UTC).date() >= dt.date.fromisoformat(batches[3].name.split("=")[1])
    ]
    assert len(in_batch) > 0.9 * len(seconds)
    assert manifest["sources"]["ratings"]["timestamp_format"] == "epoch_s"


def test_every_batch_is_complete_and_only_overrides_where_needed(landing) -> None:
    out, _ = landing
    folders = [b for s in out.iterdir() if s.is_dir() for b in s.iterdir()]
    assert len(folders) > 100
    for folder in folders:
        assert (folder / "_SUCCESS").exists(), folder
        has_settings = (folder / "_batch.yml").exists()
        assert has_settings == (folder.parent.name in ("ratings", "items")), folder
    items_settings = yaml.safe_load(next((out / "items").glob("*/_batch.yml")).read_text())
    assert items_settings == {"default_currency": "USD"}


def test_natural_keys_are_strings_that_are_not_all_integers(landing) -> None:
    out, _ = landing
    con = landing_connection(out)
    users, letters = con.execute(
        "SELECT count(*), count(*) FILTER (WHERE NOT regexp_full_match(user_id, '[0-9]+')) FROM users"
    ).fetchone()
    assert 0 < letters < users  # mostly digits, some web-shop ids like W00010050
    assert con.execute("SELECT count(*) FROM users WHERE user_id LIKE 'W0%'").fetchone()[0] > 0
    assert (
        con.execute("SELECT count(*) FROM items WHERE regexp_full_match(item_id, '[0-9]{5,}[A-Z]')").fetchone()[0] > 0
    )
    for source, key in (("users", "user_id"), ("items", "item_id")):
        assert con.execute(f"SELECT count(*) = count(DISTINCT {key}) FROM {source}").fetchone()[0], source
    prefix = "SELECT DISTINCT regexp_extract(order_id, '^[A-Z]*') FROM order_lines WHERE order_id IS NOT NULL"
    prefixes = {p for (p,) in con.execute(prefix).fetchall()}
    assert {"", "C", "R"} <= prefixes  # invoices, cancellation and return documents
    assert con.execute("SELECT count(*) FROM items WHERE page_url_path <> '/items/' || item_id").fetchone()[0] == 0


def test_clean_money_is_in_whole_minor_units(landing) -> None:
    out, _ = landing
    con = landing_connection(out)
    # Two-decimal currencies: cents; yen: none.
    off = con.execute("""
        SELECT count(*) FILTER (
                   WHERE currency IN ('USD', 'EUR', 'GBP') AND abs(unit_price * 100 - round(unit_price * 100)) > 1e-6),
               count(*) FILTER (WHERE currency = 'JPY' AND unit_price <> round(unit_price)),
               count(*) FILTER (WHERE currency IN ('USD', 'EUR', 'GBP', 'JPY'))
        FROM order_lines""").fetchone()
    dirty = con.execute(
        "SELECT count(*) FROM order_lines WHERE currency NOT IN ('USD', 'EUR', 'GBP', 'JPY')"
    ).fetchone()
    assert off[2] > 0.7 * (off[2] + dirty[0])
    # Only the few invalid_precision rows have a fraction of a minor unit.
    assert off[0] + off[1] <= 0.01 * off[2]


def test_purchases_are_written_only_with_the_legacy_option(tmp_path: Path, landing) -> None:
    out, manifest = landing
    assert not (out / "purchases").exists() and "purchases" not in manifest["sources"]
    config = GeneratorConfig(scale=0.005, seed=2, legacy_purchases=True)
    manifest = generate(config, tmp_path / "legacy", progress=False)
    files = sorted((tmp_path / "legacy" / "purchases").glob("*/*.parquet"))
    assert files and manifest["sources"]["purchases"]["rows"] == config.rows("purchases")
    assert all(_columns(path) == V1_PURCHASES for path in files)
    con = landing_connection(tmp_path / "legacy")
    # Integer keys of v1 purchases name customers and products whose text ids are those digits.
    unmatched = con.execute("""
        SELECT count(*) FROM purchases WHERE user_id < 1000000000 AND item_id < 1000000000
          AND (CAST(user_id AS VARCHAR) NOT IN (SELECT user_id FROM users)
               OR CAST(item_id AS VARCHAR) NOT IN (SELECT item_id FROM items))""").fetchone()[0]
    assert unmatched == 0
    assert con.execute("SELECT count(*) FROM purchases").fetchone()[0] > 400


def test_history_before_2000_is_behind_an_option(tmp_path: Path) -> None:
    config = GeneratorConfig(scale=0.01, seed=4, history_start=dt.date(1996, 1, 1))
    manifest = generate(config, tmp_path / "h", progress=False)
    con = landing_connection(tmp_path / "h")
    for source, ts in (("order_lines", "ordered_at"), ("ratings", "rated_at")):
        old = con.execute(f"SELECT count(*) FROM {source} WHERE {ts} BETWEEN '1996-01-01' AND '2000-01-01'").fetchone()[
            0
        ]
        assert old > 0, source
        assert min(manifest["sources"][source]["batches"]) == "1996-01-01"
    assert con.execute(
        "SELECT min(viewed_at) >= '2016-01-01' FROM page_views WHERE viewed_at > '1970-01-01'"
    ).fetchone()[0]
    currencies = {
        c
        for (c,) in con.execute(
            "SELECT DISTINCT currency FROM order_lines WHERE ordered_at BETWEEN '1970-01-01' AND '2000-01-01'"
        ).fetchall()
    }
    assert currencies <= {"USD", "EURO", "RMB", "BTC", "UKP", "US$"}  # USD only, but for unknown_currency defects
    # History is thin: a small share of the rows.
    share = con.execute("SELECT avg((ordered_at < '2016-01-01')::int) FROM order_lines").fetchone()[0]
    assert 0.01 < share < 0.3


def test_without_an_epoch_source_every_source_is_in_the_chosen_format(tmp_path: Path) -> None:
    config = GeneratorConfig(scale=0.002, seed=1, epoch_csv_source=None, file_format="csv")
    generate(config, tmp_path / "c", progress=False)
    assert not list((tmp_path / "c").glob("*/*/*.parquet"))
    assert not list((tmp_path / "c").glob("ratings/*/_batch.yml"))
    con = duckdb.connect()
    header = con.execute(
        f"SELECT * FROM read_csv('{tmp_path}/c/order_lines/*/*.csv', hive_partitioning = false) LIMIT 0"
    ).description
    assert [d[0] for d in header] == list(V2_COLUMNS["order_lines"])
