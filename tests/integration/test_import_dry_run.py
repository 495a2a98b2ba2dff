"""The dry run puts the import through the real gate on a scratch copy of the data dir, and writes nothing."""

from __future__ import annotations

import hashlib
import os
import subprocess
import sys
from pathlib import Path

import pytest

from shop_analytics.importing import import_file
from shop_analytics.ingest import ingest
from shop_analytics.settings import DataLayout
from support.import_support import EXAMPLES, ratings_doc, write_mapping
from support.pipeline import ROOT, ingest_settings

# Integer-looking keys: today's gate (contract v1) takes integer ids only; contract v2 takes any string key.
RATINGS = "user,item,stars,ts\n1,10,5,2020-01-01 10:00:00\n2,11,4,2020-01-02 10:00:00\n3,10,2,2020-01-03 10:00:00\n"
USERS = {"users": {"constants": {"country_code": "US"}, "first_event_time": True}}
ITEMS = {
    "items": {
        "constants": {"category": "books", "price": "1.0"},
        "templates": {"page_url_path": "/items/{item_id}"},
        "first_event_time": True,
    }
}


def _snapshot(root: Path) -> dict[str, str]:
    """Every file under `root` with a hash of its bytes, and every folder."""
    found = {}
    for path in sorted(root.rglob("*")):
        key = str(path.relative_to(root))
        found[key] = hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else "folder"
    return found


@pytest.fixture(scope="module")
def data_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A data dir with one ratings batch (and its users and items) ingested for real."""
    tmp = tmp_path_factory.mktemp("dry_run")
    csv = tmp / "first.csv"
    csv.write_text(RATINGS)
    mapping = write_mapping(tmp, ratings_doc(dimensions={**USERS, **ITEMS}))
    layout = DataLayout(tmp / "data")
    import_file(csv, mapping, "ratings", layout.landing, "2020-01-03")
    reports = ingest(layout, ingest_settings())
    assert {(r.source, r.status, r.rows_admitted, r.rows_quarantined) for r in reports} == {
        ("users", "ingested", 3, 0),
        ("items", "ingested", 2, 0),
        ("ratings", "ingested", 3, 0),
    }
    return layout.root


def test_dry_run_reports_per_reason_with_examples_and_writes_nothing(data_dir: Path, tmp_path: Path) -> None:
    before = _snapshot(data_dir)
    csv = tmp_path / "second.csv"
    # Row ids restart at 1 (duplicates of the lake's ids), then the old converter's refusals:
    # a half star, a rating out of range, no timestamp, an unknown user.
    csv.write_text(
        "user,item,stars,ts\n1,10,3,2020-02-01 10:00:00\n1,11,4.5,2020-02-01 10:00:00\n"
        "2,10,6,2020-02-01 10:00:00\n2,11,4,\n9,10,4,2020-02-01 10:00:00\n"
    )
    mapping = write_mapping(tmp_path, ratings_doc())
    result = import_file(
        csv, mapping, "ratings", data_dir / "landing", "2020-02-01", dry_run_data_dir=data_dir,
        ingest_settings=ingest_settings(),
    )  # fmt: skip
    assert result.written == [] and result.dry_run is not None
    (batch,) = result.dry_run.batches
    report = batch.report
    assert (report.source, report.batch_id, report.rows_in) == ("ratings", "2020-02-01", 5)
    assert report.rows_admitted + report.rows_quarantined == 5
    reasons = report.quarantined_by_reason
    assert reasons["duplicate_in_lake:rating_id"] == 3  # ids 1..3 are in the lake
    assert reasons["invalid_type:rating"] == 1
    assert reasons["unknown_user:user_id"] == 1
    assert any(r.endswith(":rated_at") for r in reasons)
    assert any(r.endswith(":rating") and not r.startswith("invalid_type") for r in reasons)
    # Examples show the text as landed, also where the conversion failed.
    (example,) = batch.examples["invalid_type:rating"]
    assert (example["user_id"], example["rating"]) == ("1", "4.5")
    assert result.dry_run.exit_code == 3  # over the quarantine threshold, as ingest would exit
    assert _snapshot(data_dir) == before
    assert not list(data_dir.parent.glob(".shop-analytics-dry-run-*"))  # the scratch copy is gone


def test_dry_run_on_a_fresh_data_dir_creates_nothing(tmp_path: Path) -> None:
    csv = tmp_path / "r.csv"
    csv.write_text(RATINGS)
    mapping = write_mapping(tmp_path, ratings_doc(dimensions={**USERS, **ITEMS}))
    result = import_file(
        csv, mapping, "ratings", tmp_path / "data" / "landing", "b1", dry_run_data_dir=tmp_path / "data",
        ingest_settings=ingest_settings(),
    )  # fmt: skip
    assert result.dry_run is not None and result.dry_run.exit_code == 0
    assert {(b.report.source, b.report.rows_admitted) for b in result.dry_run.batches} == {
        ("users", 3),
        ("items", 2),
        ("ratings", 3),
    }
    assert not (tmp_path / "data").exists()


def test_users_and_page_views_dry_run(tmp_path: Path) -> None:
    users = tmp_path / "customers.csv"
    users.write_text("id;land;since\n5;DE;2019-05-01 08:00:00\n7;FR;2019-05-02 08:00:00\n8;;2019-05-02\n")
    users_doc = {
        "source": "users",
        "columns": {"user_id": "id", "country_code": "land", "signup_at": "since"},
    }
    views = tmp_path / "views.jsonl"
    views.write_text(
        '{"id": 1, "t": "2020-01-01T10:00:00Z", "visitor": "7", "sku": "101"}\n'
        '{"id": 2, "t": "2020-01-01T10:05:00Z", "visitor": null, "sku": "101"}\n'
        '{"id": 3, "t": "2020-01-01T10:06:00Z", "visitor": "404", "sku": "102"}\n'
    )
    views_doc = {
        "source": "page_views",
        "columns": {"page_view_id": "id", "viewed_at": "t", "user_id": "visitor", "item_id": "sku"},
        "dimensions": ITEMS,
    }
    data = tmp_path / "data"
    settings = ingest_settings()
    for name, path, doc in (("users", users, users_doc), ("page_views", views, views_doc)):
        mapping = write_mapping(tmp_path, doc, f"{name}.yml")
        result = import_file(path, mapping, name, data / "landing", "b1", dry_run_data_dir=data,
                             ingest_settings=settings)  # fmt: skip
        assert result.dry_run is not None
        got = {b.report.source: b.report for b in result.dry_run.batches}
        if name == "users":
            # Contract v2: a missing country is a dimension-attribute defect, flagged downstream
            # (country_status 'missing'), never a reason to drop the customer.
            assert (got["users"].rows_in, got["users"].rows_admitted) == (3, 3)
            assert not got["users"].quarantined_by_reason
        else:
            assert (got["items"].rows_admitted, got["page_views"].rows_in) == (2, 3)
            # The users were never ingested (a dry run writes nothing): every named visitor is unknown.
            assert got["page_views"].quarantined_by_reason == {"unknown_user:user_id": 2}
    assert not data.exists()


def test_cli_dry_run_prints_counts_reasons_and_examples(tmp_path: Path) -> None:
    csv = tmp_path / "r.csv"
    csv.write_text(RATINGS + "4,12,4.5,2020-01-04 10:00:00\n")
    mapping = write_mapping(tmp_path, ratings_doc(dimensions={**USERS, **ITEMS}))
    env = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_ANALYTICS_")}
    command = [
        str(Path(sys.executable).parent / "shop-analytics"), "--data-dir", str(tmp_path / "data"), "import",
        str(csv), "--mapping", str(mapping), "--source", "ratings", "--batch-id", "b1", "--dry-run",
    ]  # fmt: skip
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    assert result.returncode == 3, result.stdout + result.stderr  # 1 of 4 rows quarantined: over 5%
    out = result.stdout
    assert "DRY RUN: nothing written" in out
    assert "ratings batch b1: ingested; rows in 4, admitted 3, quarantined 1" in out
    assert "invalid_type:rating" in out and "rating='4.5'" in out
    assert "exit code ingest would give: 3" in out
    assert not (tmp_path / "data").exists()


def test_movielens_example_is_admitted_whole(tmp_path: Path) -> None:
    result = import_file(
        EXAMPLES / "data" / "movielens_ratings.csv", EXAMPLES / "mappings" / "ratings_movielens.yml", "ratings",
        tmp_path / "data" / "landing", "ml", dry_run_data_dir=tmp_path / "data", ingest_settings=ingest_settings(),
    )  # fmt: skip
    assert result.dry_run is not None
    assert {b.report.source: b.report.rows_quarantined for b in result.dry_run.batches} == {
        "users": 0,
        "items": 0,
        "ratings": 0,
    }


def test_a_local_time_in_the_dst_gap_is_quarantined_by_the_gate(tmp_path: Path) -> None:
    csv = tmp_path / "r.csv"
    csv.write_text("user,item,stars,ts\n1,10,5,28.03.2021 01:59:59\n1,11,5,28.03.2021 02:30:00\n")
    doc = ratings_doc(
        timestamp={"format": "%d.%m.%Y %H:%M:%S", "time_zone": "Europe/Berlin"}, dimensions={**USERS, **ITEMS}
    )
    mapping = write_mapping(tmp_path, doc)
    result = import_file(
        csv, mapping, "ratings", tmp_path / "data" / "landing", "b1", dry_run_data_dir=tmp_path / "data",
        ingest_settings=ingest_settings(),
    )  # fmt: skip
    assert result.dry_run is not None
    ratings = next(b.report for b in result.dry_run.batches if b.report.source == "ratings")
    # Item 11 appears only on the gap line: that time does not exist, so the derived item is left
    # undated (and admitted, said in the import's notes), and the line names only its own defect.
    assert (ratings.rows_in, ratings.rows_admitted) == (2, 1)
    assert ratings.quarantined_by_reason == {"invalid_local_time:rated_at": 1}
    items = next(b for b in result.dry_run.batches if b.report.source == "items").report
    assert (items.rows_admitted, items.rows_quarantined) == (2, 0)
    (planned,) = [p for p in result.prepared.planned if p.target.name == "items"]
    assert planned.notes == (
        "1 item_id value(s) have no created_at the gate would accept (e.g. item_id '11': '2021-03-28T02:30:00', "
        "invalid_local_time:created_at): created_at left empty",
    )


def test_legacy_purchases_dry_run(tmp_path: Path, data_dir: Path) -> None:
    csv = tmp_path / "purchases.csv"
    csv.write_text("id,at,customer,product,n,total\n1,2020-01-05 10:00:00,1,10,2,19.98\n2,2020-01-05,3,11,1,0.001\n")
    doc = {
        "source": "purchases",
        "columns": {
            "purchase_id": "id",
            "purchased_at": "at",
            "user_id": "customer",
            "item_id": "product",
            "quantity": "n",
            "amount": "total",
        },
    }
    mapping = write_mapping(tmp_path, doc)
    result = import_file(csv, mapping, "purchases", data_dir / "landing", "p1", dry_run_data_dir=data_dir,
                         ingest_settings=ingest_settings())  # fmt: skip
    assert result.dry_run is not None
    (batch,) = result.dry_run.batches
    assert (batch.report.rows_admitted, batch.report.quarantined_by_reason) == (1, {"invalid_precision:amount": 1})


def test_dry_run_while_ingest_holds_the_catalog_is_an_operational_error(data_dir: Path, tmp_path: Path) -> None:
    catalog = DataLayout(data_dir).catalog
    holder = subprocess.Popen(
        [sys.executable, "-c", "import duckdb, sys, time; c = duckdb.connect(sys.argv[1]); print('held', flush=True); "
         "time.sleep(120)", str(catalog)],
        stdout=subprocess.PIPE, text=True,
    )  # fmt: skip
    try:
        assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
        csv = tmp_path / "r.csv"
        csv.write_text(RATINGS)
        mapping = write_mapping(tmp_path, ratings_doc(derive={"rating_id": {"method": "row_number", "start": 100}}))
        env = {k: v for k, v in os.environ.items() if not k.startswith("SHOP_ANALYTICS_")}
        command = [
            str(Path(sys.executable).parent / "shop-analytics"), "--data-dir", str(data_dir), "import", str(csv),
            "--mapping", str(mapping), "--source", "ratings", "--batch-id", "b9", "--dry-run",
        ]  # fmt: skip
        result = subprocess.run(command, capture_output=True, text=True, timeout=300, cwd=ROOT, env=env)
    finally:
        holder.kill()
        holder.wait()
    assert result.returncode == 4, result.stdout + result.stderr
    assert "is locked (is `shop-analytics ingest` running?)" in result.stderr
    assert not list(data_dir.parent.glob(".shop-analytics-dry-run-*"))


def test_dry_run_gates_the_batches_already_waiting_in_landing_as_ingest_would(tmp_path: Path) -> None:
    """Customers and products imported before the ratings, not yet ingested: the ratings' users and items are known.

    The dry run must say what `import` then `ingest` would do: the waiting batches are gated first.
    """
    layout = DataLayout(tmp_path / "data")
    first = tmp_path / "first.csv"
    first.write_text(RATINGS)
    import_file(first, write_mapping(tmp_path, ratings_doc(dimensions={**USERS, **ITEMS})), "ratings",
                layout.landing, "2020-01-03")  # fmt: skip
    second = tmp_path / "second.csv"
    second.write_text("id,user,item,stars,ts\n101,1,11,2,2020-02-01 10:00:00\n102,3,11,5,2020-02-02 10:00:00\n")
    columns = {"rating_id": "id", "user_id": "user", "item_id": "item", "rating": "stars", "rated_at": "ts"}
    mapping = write_mapping(tmp_path, {"source": "ratings", "columns": columns}, name="later.yml")
    before = _snapshot(layout.root)
    dry = import_file(second, mapping, "ratings", layout.landing, "2020-02-02", dry_run_data_dir=layout.root,
                      ingest_settings=ingest_settings())  # fmt: skip
    assert _snapshot(layout.root) == before
    assert dry.dry_run is not None
    (batch,) = dry.dry_run.batches  # only the import's batch is reported
    import_file(second, mapping, "ratings", layout.landing, "2020-02-02")
    real = {(r.source, r.batch_id): r for r in ingest(layout, ingest_settings())}
    report = real[("ratings", "2020-02-02")]
    assert (batch.report.rows_admitted, batch.report.quarantined_by_reason) == (
        report.rows_admitted,
        report.quarantined_by_reason,
    )
    assert (report.rows_admitted, report.rows_quarantined) == (2, 0)  # users 1 and 3, item 11: all known


def test_dry_run_refuses_a_batch_id_the_landing_already_holds(tmp_path: Path) -> None:
    layout = DataLayout(tmp_path / "data")
    csv = tmp_path / "r.csv"
    csv.write_text(RATINGS)
    mapping = write_mapping(tmp_path, ratings_doc())
    import_file(csv, mapping, "ratings", layout.landing, "b1")
    with pytest.raises(FileExistsError, match=r"ratings batch 'b1' already exists in .*data/landing/ratings"):
        import_file(csv, mapping, "ratings", layout.landing, "b1", dry_run_data_dir=layout.root,
                    ingest_settings=ingest_settings())  # fmt: skip
