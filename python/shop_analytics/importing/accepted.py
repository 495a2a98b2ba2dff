"""Which value of a derived dimension attribute the gate will accept, judged per line by the gate's own rules.

A users or items row derived from the lines takes a judged attribute (items.price, the
time column) from one line. If that value is one the gate refuses (a zero or sub-cent
price, a local time in a DST gap, a time outside the window), the gate quarantines the
whole dimension row, and then every line of that customer or product as unknown_user /
unknown_item. So each line's value is converted and checked here exactly as the gate
will (ingest/conversions.py, quality/rules.py with ingest.yml's settings for the
dimension and the batch's _batch.yml), and the row takes the first accepted value; with
none, the attribute is left empty (the contract allows it) and the import says so.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path

import duckdb

from shop_analytics.ingest.conversions import create_time_macros, is_utc, text_local_exists_sql, text_to_type_sql
from shop_analytics.quality.check_view import cast_ok_column, local_ok_column
from shop_analytics.quality.currencies import load_currencies
from shop_analytics.quality.duckdb_types import duckdb_type_names
from shop_analytics.quality.money import MAX_SCALE, MONEY_COLUMNS
from shop_analytics.quality.raw_contract import ALL_SOURCES, Source, source_by_name
from shop_analytics.quality.rules import NOT_NULL, Rule, RuleParams, rules_for
from shop_analytics.quality.rules_sql import failure_condition
from shop_analytics.settings import BATCH_KEYS, IngestConfig, SourceIngestSettings
from shop_analytics.sql import quote_ident, quote_literal

CURRENCIES = "import_currencies"  # the currencies seed as a table of the import's connection
ISO8601 = "iso8601"


@dataclass(frozen=True)
class GateView:
    """What the gate will judge an import's dimension batches with: ingest.yml, the currencies seed, the time."""

    config: IngestConfig
    currencies_csv: Path
    now: dt.datetime  # naive UTC: the window's upper bound is this plus max_future


def load_ingest_config(path: Path | None) -> IngestConfig:
    """ingest.yml at `path` as ingest reads it (absent: the documented defaults)."""
    return IngestConfig.load(path, tuple(s.name for s in ALL_SOURCES))


def run_start(today: dt.date | None = None) -> dt.datetime:
    """The start of the gate's run as ingest computes it: the start of `today`, else now (naive UTC)."""
    return dt.datetime.combine(today, dt.time()) if today else dt.datetime.now(dt.UTC).replace(tzinfo=None)


@dataclass(frozen=True)
class JudgedColumn:
    """One dimension attribute the gate judges: SQL (over alias b) for its converted value and its failures."""

    name: str
    value: str  # the gate's conversion of the landed text `raw`
    raw: str  # SQL for the text as landed
    flags: dict[str, str]  # gate helper column -> SQL (cast_ok, local_ok) the rules read
    rules: tuple[Rule, ...]  # the row-level rules on this column a single value can break
    money: bool  # judged against its currency's minor units: needs the CURRENCIES table

    def accepted(self) -> str:
        """SQL over b: true when the landed text is set and the gate admits it."""
        failures = " OR ".join(f"coalesce({failure_condition(r)}, false)" for r in self.rules) or "false"
        return f"(b.{quote_ident(self.name)} IS NOT NULL AND NOT ({failures}))"

    def reason(self) -> str:
        """SQL over b: the gate's reason for refusing the value (the first rule it breaks), NULL if none."""
        cases = " ".join(
            f"WHEN coalesce({failure_condition(r)}, false) THEN {quote_literal(r.reason)}" for r in self.rules
        )
        return f"CASE {cases} END" if cases else "CAST(NULL AS VARCHAR)"


def dimension_settings(view: GateView, source: str, batch_settings: Mapping[str, str]) -> SourceIngestSettings:
    """The settings the gate will read `source`'s batch with: ingest.yml's, with the import's _batch.yml applied."""
    return view.config.for_source(source).overridden(
        batch_settings, f"the import's _batch.yml for {source}", BATCH_KEYS
    )


def prepare(con: duckdb.DuckDBPyConnection, view: GateView, needs_currencies: bool) -> None:
    """Create what the judged columns' SQL reads in `con`: the local-time macros and, if needed, the currencies."""
    create_time_macros(con)
    if not needs_currencies:
        return
    if not view.currencies_csv.is_file():
        raise FileNotFoundError(
            f"currencies seed {view.currencies_csv} not found: a price derived from the lines is checked against "
            f"its currency's minor units, as the gate will; run from the project folder or pass --currencies"
        )
    currencies = load_currencies(view.currencies_csv)
    con.execute(f"CREATE OR REPLACE TEMP TABLE {CURRENCIES} (currency VARCHAR, minor_units INTEGER)")
    con.execute(
        f"INSERT INTO {CURRENCIES} SELECT unnest(?::VARCHAR[]), unnest(?::INTEGER[])",
        [list(currencies), [MAX_SCALE if u is None else u for u in currencies.values()]],
    )


def judged_column(
    view: GateView, source_name: str, column: str, raw: str, settings: SourceIngestSettings
) -> JudgedColumn | None:
    """How the gate converts and judges `column` of `source_name` given as landed text `raw`; None if it is text."""
    source = source_by_name(source_name)
    kind = dict(zip(source.schema.names, duckdb_type_names(source.schema), strict=True))[column]
    if kind.upper() == "VARCHAR":
        return None  # text is landed as it is: nothing for the gate to refuse in one value
    fmt, zone = settings.timestamp_format, settings.time_zone
    flags = {
        cast_ok_column(
            column
        ): f"CASE WHEN {raw} IS NULL OR ({text_to_type_sql(raw, kind, fmt, zone)}) IS NOT NULL THEN 1 END"
    }
    local = kind.upper() == "TIMESTAMP" and fmt == ISO8601 and not is_utc(zone)
    if local:
        flags[local_ok_column(column)] = f"CASE WHEN {raw} IS NULL OR {text_local_exists_sql(raw, zone)} THEN 1 END"
    rules = rules_for(source, _params(view, source, settings, (column,), (column,) if local else ()))
    mine = tuple(r for r in rules if r.column == column and r.check != NOT_NULL)
    money = column in MONEY_COLUMNS.get(source_name, ())
    return JudgedColumn(column, text_to_type_sql(raw, kind, fmt, zone), raw, flags, mine, money)


def _params(
    view: GateView, source: Source, settings: SourceIngestSettings, cast: tuple[str, ...], local: tuple[str, ...]
) -> RuleParams:
    """The gate's rule parameters for `source` (group_gate._rule_params), without the references between batches."""
    return RuleParams(
        today=view.now.date(),
        now=view.now,
        earliest=dt.datetime.combine(settings.earliest, dt.time()),
        max_future=settings.max_future,
        cast_columns=cast,
        local_columns=local,
        currencies=CURRENCIES,
        default_currency=settings.default_currency,
    )
