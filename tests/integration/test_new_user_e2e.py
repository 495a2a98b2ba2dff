"""A new user, end to end: the README's "Bring your own data" commands, run as written, in a fresh data dir.

The commands are read from README.md (the fenced block after the ``new-user-e2e`` marker), so
the README shows exactly what this test runs: a retailer's invoice-line export in a foreign
shape (its own column names, string stock codes, C-numbered cancellations, country names,
GBP, local UK times) plus its mapping -> import --dry-run -> import -> ingest -> dbt seed ->
dbt build -> check -> publish. The published marts are compared with an oracle computed
here in plain Python (csv, Decimal, zoneinfo) from contract v2's rules (docs/marts.md).
"""

from __future__ import annotations

import datetime as dt
import json
import os
import shlex
import subprocess
import sys
import zoneinfo
from collections import defaultdict
from decimal import Decimal
from pathlib import Path
from typing import Any

import duckdb
import pytest

from support.import_support import retail_lines_oracle, retail_rows
from support.pipeline import ROOT

MARKER = "<!-- new-user-e2e:"
EXPECTED_STEPS = [
    ("shop-analytics", "import", "--dry-run"),
    ("shop-analytics", "import", None),
    ("shop-analytics", "ingest", None),
    ("dbt", "seed", None),
    ("dbt", "build", None),
    ("shop-analytics", "check", None),
    ("shop-analytics", "publish", None),
]
LONDON = zoneinfo.ZoneInfo("Europe/London")


def readme_commands() -> list[list[str]]:
    """The commands of the README block after the marker, continuation lines joined, split like a shell."""
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert text.count(MARKER) == 1, "README.md must hold exactly one new-user-e2e marker"
    after = text[text.index(MARKER) :]
    start = after.index("```bash\n") + len("```bash\n")
    block = after[start : after.index("```", start)]
    joined = block.replace("\\\n", " ")
    return [shlex.split(line) for line in joined.splitlines() if line.strip() and not line.startswith("#")]


def _env(tmp: Path) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith(("SHOP_ANALYTICS_", "DBT_"))}
    data = tmp / "my_shop"
    env.update(
        {
            # What the README's export line sets, pointed at this test's fresh folder.
            "SHOP_ANALYTICS_DATA_DIR": str(data),
            "SHOP_ANALYTICS_WAREHOUSE": str(data / "warehouse.duckdb"),
            "SHOP_ANALYTICS_TEMP_DIR": str(tmp / "duckdb_tmp"),
            "DBT_PROFILES_DIR": str(ROOT),
            "DBT_TARGET_PATH": str(tmp / "target"),
            "DBT_LOG_PATH": str(tmp / "logs"),
            "DBT_SEND_ANONYMOUS_USAGE_STATS": "false",
            "GX_ANALYTICS_ENABLED": "false",
            "PATH": f"{Path(sys.executable).parent}{os.pathsep}{os.environ.get('PATH', '')}",
        }
    )
    return env


def _run(command: list[str], env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True, timeout=1800)


def test_readme_block_is_the_new_user_journey() -> None:
    commands = readme_commands()
    steps = [(c[0], c[1], "--dry-run" if "--dry-run" in c else None) for c in commands]
    assert steps == EXPECTED_STEPS
    imports = [c for c in commands if c[1] == "import"]
    assert imports[0][:-1] == imports[1]  # the dry run checks exactly what is then written
    for command in imports:
        for path in (command[2], command[command.index("--mapping") + 1]):
            assert (ROOT / path).is_file(), path


def test_readme_import_step_lands_the_oracle_batch(tmp_path: Path) -> None:
    env = _env(tmp_path)
    command = readme_commands()[1]
    result = _run(command, env)
    assert result.returncode == 0, result.stdout + result.stderr
    batch_id = command[command.index("--batch-id") + 1]
    landing = tmp_path / "my_shop" / "landing"
    folder = landing / "order_lines" / f"batch_date={batch_id}"
    lines = [json.loads(line) for line in (folder / "part-0.json").read_text().splitlines()]
    assert lines == retail_lines_oracle()
    assert sorted(p.name for p in folder.iterdir()) == ["_SUCCESS", "_batch.yml", "part-0.json"]
    for source in ("users", "items"):
        assert (landing / source / f"batch_date={batch_id}" / "_SUCCESS").is_file()
    assert f"wrote order_lines batch {batch_id}: {len(lines)} rows" in result.stdout


def test_ratings_new_user_import_dry_run_and_ingest_today(tmp_path: Path) -> None:
    """What works with today's gate, through the command line: a ratings export, dry run, import, ingest."""
    env = _env(tmp_path)
    csv = tmp_path / "my_ratings.csv"
    csv.write_text("user,item,stars,ts\n1,10,5,2020-03-01 12:00:00\n2,10,3,2020-03-01 12:05:00\n2,11,4,2020-03-02\n")
    base = ["shop-analytics", "import", str(csv), "--source", "ratings", "--batch-id", "2020-03"]
    base += ["--mapping", "examples/mappings/ratings_simple.yml"]
    dry = _run([*base, "--dry-run"], env)
    assert dry.returncode == 0, dry.stdout + dry.stderr
    assert "ratings batch 2020-03: ingested; rows in 3, admitted 3, quarantined 0" in dry.stdout
    assert not (tmp_path / "my_shop").exists()
    for command in (base, ["shop-analytics", "ingest", "--no-data-docs"]):
        result = _run(command, env)
        assert result.returncode == 0, result.stdout + result.stderr
    lake = tmp_path / "my_shop" / "lake"
    with duckdb.connect() as con:
        for source, rows in (("users", 2), ("items", 2), ("ratings", 3)):
            files = [str(p) for p in (lake / source).rglob("*.parquet")]
            assert con.execute("SELECT count(*) FROM read_parquet($files)", {"files": files}).fetchone() == (rows,)


# --- the oracle of the marts (contract v2, docs/marts.md) ------------------------------------------------


def _utc(local: str) -> dt.datetime:
    # An ambiguous local time takes the earlier instant (fold=0); the example has no gap time.
    naive = dt.datetime.strptime(local, "%m/%d/%Y %H:%M")
    return naive.replace(tzinfo=LONDON, fold=0).astimezone(dt.UTC).replace(tzinfo=None)


def mart_oracle() -> dict[str, Any]:
    """Orders, daily revenue and same-day repeat purchases of the retail example, in GBP, dates in UTC."""
    lines = []
    for row in retail_rows():
        quantity = int(row["Quantity"])
        order = row["InvoiceNo"]
        lines.append(
            {
                "order": order,
                "customer": row["CustomerID"] or None,
                "at": _utc(row["InvoiceDate"]),
                "amount": abs(quantity) * Decimal(row["UnitPrice"]),
                "sale": not (order.startswith("C") or quantity < 0),
            }
        )
    orders: dict[str, dict[str, Any]] = {}
    for line in lines:
        if line["sale"]:
            order = orders.setdefault(
                line["order"], {"customer": line["customer"], "at": line["at"], "lines": 0, "amount": Decimal(0)}
            )
            order["at"] = min(order["at"], line["at"])
            order["lines"] += 1
            order["amount"] += line["amount"]
    revenue: dict[dt.date, dict[str, Decimal]] = defaultdict(lambda: {"gross": Decimal(0), "credit": Decimal(0)})
    for line in lines:
        # The export's reversals name no original order: credit notes, on their own date.
        revenue[line["at"].date()]["gross" if line["sale"] else "credit"] += line["amount"]
    days: dict[tuple[str, dt.date], list[dict[str, Any]]] = defaultdict(list)
    for order in orders.values():
        if order["customer"] is not None:
            days[(order["customer"], order["at"].date())].append(order)
    repeat = {
        key: (len(found), sum(o["lines"] for o in found), sum(o["amount"] for o in found))
        for key, found in days.items()
        if len(found) > 1
    }
    return {
        "orders": {k: (v["customer"], v["lines"], v["amount"], "completed") for k, v in orders.items()},
        "revenue": {d: (v["gross"], v["credit"], v["gross"] - v["credit"]) for d, v in revenue.items()},
        "repeat": repeat,
    }


def test_mart_oracle_sees_the_business_cases() -> None:
    oracle = mart_oracle()
    # A basket of three lines and one of two, the same morning: one customer-day, two purchases.
    assert oracle["repeat"][("17850", dt.date(2010, 12, 1))] == (2, 5, Decimal("79.84"))
    # 00:30 GMT and 10:15 BST on the spring-forward day are the same UTC day.
    assert oracle["repeat"][("14911", dt.date(2011, 3, 27))][:2] == (2, 3)
    assert len(oracle["repeat"]) == 2
    # A credit note on a later day reduces that day's revenue, not the order's.
    assert oracle["revenue"][dt.date(2010, 12, 2)] == (Decimal(0), Decimal("5.1"), Decimal("-5.1"))
    assert oracle["orders"]["536365"][2] == Decimal("57.64")


@pytest.mark.slow
def test_new_user_end_to_end(tmp_path: Path) -> None:
    env = _env(tmp_path)
    for command in readme_commands():
        result = _run(command, env)
        assert result.returncode == 0, f"{shlex.join(command)} exited {result.returncode}:\n" + (
            result.stdout[-4000:] + result.stderr[-4000:]
        )
    serving = tmp_path / "my_shop" / "serving" / "shop_analytics.duckdb"
    oracle = mart_oracle()
    with duckdb.connect(str(serving), read_only=True) as con:
        con.execute("SET TimeZone = 'UTC'")
        orders = {
            order: (customer, lines, Decimal(amount), status)
            for order, customer, lines, amount, status in con.execute(
                "SELECT order_id, customer_id, line_count, CAST(net_amount AS VARCHAR), order_status "
                "FROM marts.fct_orders WHERE line_count > 0 AND order_id NOT LIKE 'C%'"
            ).fetchall()
        }
        assert orders == oracle["orders"]
        revenue = {
            day: (Decimal(gross), Decimal(credit), Decimal(net))
            for day, gross, credit, net in con.execute(
                "SELECT activity_date, CAST(gross_sales AS VARCHAR), CAST(credit_note_amount AS VARCHAR), "
                "CAST(net_revenue AS VARCHAR) FROM marts.rpt_daily_revenue WHERE reporting_currency = 'GBP'"
            ).fetchall()
        }
        assert revenue == oracle["revenue"]
        repeat = {
            (customer, day): (count, lines, Decimal(amount))
            for customer, day, count, lines, amount in con.execute(
                "SELECT customer_id, purchase_date, order_count, line_count, CAST(net_amount AS VARCHAR) "
                "FROM marts.fct_same_day_repeat_purchases"
            ).fetchall()
        }
        assert repeat == oracle["repeat"]
        countries = dict(con.execute("SELECT customer_id, country_code FROM marts.dim_customers").fetchall())
        assert countries == {"17850": "GB", "13047": "GB", "12583": "FR", "14527": "GB", "14911": "IE"}
