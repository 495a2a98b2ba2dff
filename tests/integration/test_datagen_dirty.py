"""The manifest's dirty-row counts match an independent count over the landing files.

The predicates below are the contract's rules written again in SQL over the raw files
(not the generator's code): the gate's quarantine counts are compared with the manifest,
so the manifest must count exactly the rows a correct gate rejects, one defect per row.
"""

from __future__ import annotations

from pathlib import Path

import duckdb
import pytest

from shop_analytics.datagen import GeneratorConfig, generate
from support.datagen_landing import landing_connection, minor_units_sql

CONFIG = GeneratorConfig(scale=0.05, seed=7, chunk_rows=20_000, dirty_rate=0.08)
IN_RANGE = "{ts} >= TIMESTAMP '1970-01-01' AND {ts} < TIMESTAMP '2050-01-01'"
OUT_OF_RANGE = "({ts} < TIMESTAMP '1970-01-01' OR {ts} >= TIMESTAMP '2050-01-01')"
KNOWN_USER = "user_id IN (SELECT user_id FROM users)"
KNOWN_ITEM = "item_id IN (SELECT item_id FROM items)"
# Currencies with a rate are ISO codes (USD is the base): rates name them in either column.
KNOWN_CURRENCY = "currency IN (SELECT currency FROM exchange_rates UNION SELECT base_currency FROM exchange_rates)"
REVERSAL = "line_type IN ('cancellation', 'return')"

EVENT_RULES = {
    "page_views": {
        "null_key": "page_view_id IS NULL OR item_id IS NULL",
        "timestamp_out_of_range": OUT_OF_RANGE.format(ts="viewed_at"),
        "unknown_user": f"user_id IS NOT NULL AND NOT {KNOWN_USER}",
        "unknown_item": f"item_id IS NOT NULL AND NOT {KNOWN_ITEM}",
    },
    "ratings": {
        "null_key": "rating_id IS NULL OR user_id IS NULL OR item_id IS NULL",
        "timestamp_out_of_range": OUT_OF_RANGE.format(ts="rated_at"),
        "unknown_user": f"user_id IS NOT NULL AND NOT {KNOWN_USER}",
        "unknown_item": f"item_id IS NOT NULL AND NOT {KNOWN_ITEM}",
        "invalid_value": "rating NOT BETWEEN 1 AND 5",
    },
}
EVENT_KEYS = {"page_views": ("page_view_id", "viewed_at"), "ratings": ("rating_id", "rated_at")}


def _not_whole(column: str) -> str:
    scaled = f"{column} * pow(10, {minor_units_sql('currency')})"
    return f"abs({scaled} - round({scaled})) > 1e-6"


ORDER_LINE_RULES = {
    "null_key": "order_id IS NULL OR line_number IS NULL OR item_id IS NULL",
    "invalid_key": "order_id <> trim(order_id) OR regexp_matches(order_id, '[[:cntrl:]]')",
    "unknown_user": f"user_id IS NOT NULL AND NOT {KNOWN_USER}",
    "unknown_item": f"item_id IS NOT NULL AND NOT {KNOWN_ITEM}",
    "unknown_currency": f"NOT {KNOWN_CURRENCY}",
    "invalid_value": (
        "quantity <= 0 OR unit_price < 0 OR line_amount < 0"
        " OR line_type NOT IN ('sale', 'cancellation', 'return')"
        " OR (line_type = 'sale' AND (original_order_id IS NOT NULL OR original_line_number IS NOT NULL))"
    ),
    "invalid_precision": f"{KNOWN_CURRENCY} AND ({_not_whole('unit_price')} OR {_not_whole('line_amount')})",
    "unknown_order": (
        f"{REVERSAL} AND original_order_id IS NOT NULL AND original_order_id NOT IN "
        "(SELECT order_id FROM order_lines WHERE line_type = 'sale' AND order_id IS NOT NULL)"
    ),
    "timestamp_out_of_range": OUT_OF_RANGE.format(ts="ordered_at"),
}
DEFECTS = " + ".join(f"coalesce(({rule})::int, 0)" for rule in ORDER_LINE_RULES.values())


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict, duckdb.DuckDBPyConnection]:
    out = tmp_path_factory.mktemp("datagen_dirty") / "landing"
    manifest = generate(CONFIG, out, workers=2, progress=False)
    con = landing_connection(out)
    con.execute(f"CREATE TABLE lines AS SELECT *, {DEFECTS} AS defects FROM order_lines")
    return out, manifest, con


def _count(con: duckdb.DuckDBPyConnection, sql: str) -> int:
    return int(con.execute(sql).fetchone()[0])


@pytest.mark.parametrize("source", sorted(EVENT_RULES))
def test_event_dirty_counts_match_independent_count(landing, source: str) -> None:
    _, manifest, con = landing
    entry = manifest["sources"][source]
    for kind, predicate in EVENT_RULES[source].items():
        assert _count(con, f"SELECT count(*) FROM {source} WHERE {predicate}") == entry["dirty"][kind] > 0, kind
    key, ts = EVENT_KEYS[source]
    assert (
        _count(con, f"SELECT count({key}) - count(DISTINCT {key}) FROM {source}")
        == entry["dirty"]["duplicate_event_id"]
    )
    late = f"SELECT count(*) FROM {source} WHERE {IN_RANGE.format(ts=ts)} AND CAST({ts} AS DATE) < batch_date"
    assert _count(con, late) == entry["truth"]["late_arriving"] > 0
    assert _count(con, f"SELECT count(*) FROM {source}") == entry["rows"]


@pytest.mark.parametrize("kind", sorted(ORDER_LINE_RULES))
def test_order_line_dirty_counts_match_independent_count(landing, kind: str) -> None:
    _, manifest, con = landing
    observed = _count(con, f"SELECT count(*) FROM lines WHERE {ORDER_LINE_RULES[kind]}")
    assert observed == manifest["sources"]["order_lines"]["dirty"][kind] > 0


def test_order_line_duplicates_are_exact_copies(landing) -> None:
    _, manifest, con = landing
    expected = manifest["sources"]["order_lines"]["dirty"]["duplicate_event_id"]
    by_key = _count(con, "SELECT count(*) - count(DISTINCT (order_id, line_number)) FROM lines WHERE defects = 0")
    # Every column equal, the batch too: the same line delivered twice.
    exact = _count(
        con,
        "SELECT count(*) FROM (SELECT * EXCLUDE (filename, defects) FROM lines EXCEPT ALL "
        "SELECT DISTINCT * EXCLUDE (filename, defects) FROM lines)",
    )
    assert by_key == exact == expected > 0


def test_each_dirty_order_line_has_exactly_one_defect(landing) -> None:
    _, manifest, con = landing
    entry = manifest["sources"]["order_lines"]
    assert _count(con, "SELECT max(defects) FROM lines") == 1
    flagged = _count(con, "SELECT count(*) FROM lines WHERE defects = 1")
    assert flagged == sum(v for k, v in entry["dirty"].items() if k != "duplicate_event_id")
    # About dirty_rate of the rows are dirty (kinds split it evenly; whole-order kinds vary more).
    assert (flagged + entry["dirty"]["duplicate_event_id"]) / entry["rows"] == pytest.approx(CONFIG.dirty_rate, rel=0.3)


def test_defects_never_spill_onto_other_rows(landing) -> None:
    _, _, con = landing
    # No order that a cancellation or return references has a dirty line (its reversal stays valid) ...
    referenced_dirty = """
        SELECT count(*) FROM lines r JOIN lines o ON o.order_id = r.original_order_id
        WHERE r.line_type IN ('cancellation', 'return') AND r.defects = 0 AND o.defects > 0"""
    assert _count(con, referenced_dirty) == 0
    # ... and the lines of an order never disagree on the customer or the currency (inconsistent_order).
    inconsistent = """
        SELECT count(*) FROM (SELECT order_id FROM lines WHERE order_id IS NOT NULL GROUP BY order_id
        HAVING count(DISTINCT coalesce(user_id, '<guest>')) > 1 OR count(DISTINCT currency) > 1)"""
    assert _count(con, inconsistent) == 0


def test_order_line_ground_truth(landing) -> None:
    _, manifest, con = landing
    entry = manifest["sources"]["order_lines"]
    truth = entry["truth"]
    late = (
        f"SELECT count(*) FROM lines WHERE {IN_RANGE.format(ts='ordered_at')} AND CAST(ordered_at AS DATE) < batch_date"
    )
    assert _count(con, late) == truth["late_arriving"] > 0
    in_later = "SELECT count(*) FROM lines WHERE filename LIKE '%/reversals-of-%'"
    assert _count(con, in_later) == truth["reversal_lines_in_later_batch"] > 0
    assert _count(con, "SELECT count(*) FROM lines WHERE user_id IS NULL") == truth["guest_lines"] > 0
    credit_notes = f"SELECT count(*) FROM lines WHERE {REVERSAL} AND original_order_id IS NULL"
    assert _count(con, credit_notes) == truth["credit_note_lines"] > 0
    assert _count(con, "SELECT count(*) FROM lines") == entry["rows"]
    per_batch = dict(con.execute("SELECT CAST(batch_date AS VARCHAR), count(*) FROM lines GROUP BY 1").fetchall())
    assert per_batch == entry["batches"]


def test_dimension_and_rate_ground_truth(landing) -> None:
    _, manifest, con = landing
    users = manifest["sources"]["users"]["truth"]
    spelled = {
        "country_missing": "country_code IS NULL",
        "country_unknown": "country_code IN ('Unspecified', 'European Community', 'ZZ', 'Atlantis', 'N/A')",
        "country_alpha3": "regexp_full_match(country_code, '[A-Z]{3}') AND country_code NOT IN ('RSA', 'UAE')",
    }
    # Everything else that is not an alpha-2 code is an alias or a spelled-out name (UK and EL look like codes).
    spelled["country_alias"] = (
        "(NOT regexp_full_match(country_code, '[A-Z]{2}') OR country_code IN ('UK', 'EL')) AND NOT ("
        + " OR ".join(f"coalesce({p}, true)" for p in spelled.values())
        + ")"
    )
    for kind, predicate in spelled.items():
        assert _count(con, f"SELECT count(*) FROM users WHERE {predicate}") == users[kind] > 0, kind
    assert _count(con, "SELECT count(*) FROM users WHERE signup_at IS NULL") == users["signup_missing"]
    items = manifest["sources"]["items"]["truth"]
    assert _count(con, "SELECT count(*) FROM items WHERE price IS NULL") == items["price_missing"]
    assert _count(con, "SELECT count(*) FROM items WHERE category = 'misc'") == items["unknown_category"]
    rates = manifest["sources"]["exchange_rates"]["truth"]
    assert _count(con, "SELECT count(*) FROM exchange_rates WHERE currency = 'USD'") == rates["inverse_quotes"] > 0
    assert _count(con, "SELECT count(*) FROM exchange_rates WHERE base_currency = 'EUR'") == rates["eur_based_quotes"]


def test_manifest_rows_and_files_match_the_folder(landing) -> None:
    out, manifest, con = landing
    for source, entry in manifest["sources"].items():
        files = [p for p in (out / source).glob("*/*") if p.suffix in (".parquet", ".csv")]
        assert len(files) == entry["files"], source
        assert _count(con, f"SELECT count(*) FROM {source}") == entry["rows"], source
