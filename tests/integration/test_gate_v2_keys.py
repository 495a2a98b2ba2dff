"""Contract v2 natural keys: text kept exactly, integers converted exactly, bad keys quarantined as invalid_key."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import pyarrow as pa
import pytest

from shop_analytics.quality.namespace import REASONS
from shop_analytics.quality.raw_contract import ITEMS, PAGE_VIEWS, USERS
from support.gate_v2_data import build_v2_baseline, ingest, items_columns
from support.handmade_landing import copy_baseline, csv_bytes, lake_rows, land, quarantined_rows


@pytest.fixture(scope="module")
def baseline(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("v2_keys") / "data"
    build_v2_baseline(root)
    return root


@pytest.fixture()
def root(baseline: Path, tmp_path: Path) -> Path:
    return copy_baseline(baseline, tmp_path / "data").root


def test_text_keys_keep_leading_zeros_and_case(root: Path) -> None:
    users = lake_rows(root, "users", "2018-01-01")
    assert sorted(u["user_id"] for u in users) == ["007", "7", "C-1"]
    views = {
        "page_view_id": ["1", "2", "3", "4"],
        "viewed_at": ["2018-06-01 10:00:00"] * 4,
        "user_id": ["007", "07", "7", None],
        "item_id": ["00042", "42", "85123A", "85123a"],
    }
    land(root, "page_views", "v1", {"part-0.csv": csv_bytes(views)})
    ingest(root)
    assert [
        (r["user_id"], r["item_id"])
        for r in sorted(lake_rows(root, "page_views", "v1"), key=lambda r: r["page_view_id"])
    ] == [
        ("007", "00042"),
        ("7", "85123A"),
    ]
    reasons = {r["page_view_id"]: r["__gate_reasons"] for r in quarantined_rows(root, "page_views", "v1")}
    assert reasons == {2: ["unknown_user:user_id"], 4: ["unknown_item:item_id"]}


def test_integer_keys_become_their_exact_decimal_text(tmp_path: Path) -> None:
    root = tmp_path / "data"
    big = 2**53 + 1  # a double would round it to 2**53
    users = pa.table(
        {"user_id": [big, -5, 7], "country_code": ["GB"] * 3, "signup_at": [dt.datetime(2017, 1, 1)] * 3},
        schema=USERS.v1_schema,
    )
    land(root, "users", "u1", {"part-0.parquet": users})
    land(root, "items", "i1", {"part-0.csv": csv_bytes(items_columns(["42"]))})
    views = pa.table(
        {
            "page_view_id": [1, 2],
            "viewed_at": [dt.datetime(2018, 6, 1)] * 2,
            "user_id": pa.array([big, None], pa.uint64()),
            "item_id": pa.array([42, 42], pa.int32()),
        }
    )
    land(root, "page_views", "v1", {"part-0.parquet": views})
    code, out, err = ingest(root)
    assert code == 0, (out, err)
    assert sorted(u["user_id"] for u in lake_rows(root, "users", "u1")) == ["-5", "7", str(big)]
    rows = sorted(lake_rows(root, "page_views", "v1"), key=lambda r: r["page_view_id"])
    assert [(r["user_id"], r["item_id"]) for r in rows] == [(str(big), "42"), (None, "42")]
    assert set(PAGE_VIEWS.schema.names) <= set(rows[0])


@pytest.mark.parametrize(
    "key",
    [" 42", "42 ", "4\t2", "42\u00a0", "", "x" * 257, "a\x00b"],
    ids=["leading space", "trailing space", "tab", "nbsp", "empty", "too long", "nul"],
)
def test_bad_keys_are_quarantined_never_trimmed(root: Path, key: str) -> None:
    columns = items_columns([key, "OK-1"])
    table = pa.table({c: pa.array(v, ITEMS.schema.field(c).type) for c, v in columns.items()})
    land(root, "items", "i2", {"part-0.parquet": table})
    ingest(root)
    quarantined = quarantined_rows(root, "items", "i2")
    assert [(r["item_id"], r["__gate_reasons"]) for r in quarantined] == [(key, ["invalid_key:item_id"])]
    assert [r["item_id"] for r in lake_rows(root, "items", "i2")] == ["OK-1"]


def test_country_codes_are_never_quarantined(root: Path) -> None:
    users = {"user_id": ["u1", "u2", "u3"], "country_code": ["Narnia", None, "uk"], "signup_at": ["2017-01-01"] * 3}
    land(root, "users", "u2", {"part-0.csv": csv_bytes(users)})
    code, out, err = ingest(root)
    assert code == 0, (out, err)
    assert sorted((r["user_id"], r["country_code"]) for r in lake_rows(root, "users", "u2")) == [
        ("u1", "Narnia"),
        ("u2", None),
        ("u3", "uk"),
    ]


def _snapshot(users: list[str], countries: list[str]) -> dict[str, bytes]:
    return {
        "part-0.csv": csv_bytes({"user_id": users, "country_code": countries, "signup_at": ["2017-01-01"] * len(users)})
    }


@pytest.mark.parametrize("runs", ["one run", "a run per batch"])
def test_a_later_customer_snapshot_supersedes_whether_or_not_it_is_gated_with_the_earlier(
    root: Path, runs: str
) -> None:
    """Batches of one source are validated together in one run: a dimension's key in two of them is an update.

    Only a key twice within one snapshot is a duplicate; an ingest run of both batches must
    decide as two runs do.
    """
    land(root, "users", "2018-02-01", _snapshot(["C-1"], ["GB"]))
    if runs == "a run per batch":
        assert ingest(root)[0] == 0
    land(root, "users", "2018-03-01", _snapshot(["C-1", "N-2", "N-2"], ["FR", "DE", "AT"]))
    code, out, _ = ingest(root)
    assert code == 3, out  # the duplicate is one of three rows: over the 5% threshold, loudly
    assert [(u["user_id"], u["country_code"]) for u in lake_rows(root, "users", "2018-02-01")] == [("C-1", "GB")]
    assert sorted((u["user_id"], u["country_code"]) for u in lake_rows(root, "users", "2018-03-01")) == [
        ("C-1", "FR"),
        ("N-2", "DE"),
    ]
    [duplicate] = quarantined_rows(root, "users", "2018-03-01")
    assert (duplicate["user_id"], duplicate["country_code"]) == ("N-2", "AT")
    assert list(duplicate[REASONS]) == ["duplicate_event_id:user_id"]
