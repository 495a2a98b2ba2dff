"""Batches are gated group by group as they are read: bounded memory, the same lake.

A source's pending batches are validated together in groups of about `group_rows` rows.
A group is gated as soon as the next batch does not fit it, so at most one group of
batches (plus that next batch) is held in memory, however many batches a source has
waiting. Tiny groups
must give exactly the lake, quarantine and audit of one large group.
"""

from __future__ import annotations

import datetime as dt
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import duckdb
import pytest

from shop_analytics.datagen import GeneratorConfig, generate
from shop_analytics.ingest import ingest, runner
from shop_analytics.quality.raw_contract import ALL_SOURCES
from shop_analytics.settings import DataLayout
from support.pipeline import ingest_settings

# Ratings land as epoch-second CSV (read into tables, the memory-hungry shape); order lines
# carry cancellations whose order may sit in an earlier group.
SMALL = GeneratorConfig(scale=0.002, seed=11, start=dt.date(2016, 1, 1), end=dt.date(2016, 7, 1))  # 6 monthly batches


def _rows(layout: DataLayout, folder: Path, pattern: str) -> list[tuple[Any, ...]]:
    if not folder.exists():
        return []
    return duckdb.sql(
        f"SELECT * EXCLUDE (filename) FROM read_parquet('{folder}/{pattern}', union_by_name = true, "
        f"filename = true) ORDER BY ALL"
    ).fetchall()


def _outcome(layout: DataLayout, reports: list[Any]) -> dict[str, Any]:
    """Everything an ingest decides: lake and quarantine rows, and each batch's counts by reason."""
    out: dict[str, Any] = {}
    for source in ALL_SOURCES:
        lake = layout.lake / source.name
        out[f"lake/{source.name}"] = _rows(layout, lake, "event_date=*/*.parquet" if source.is_fact else "*.parquet")
        out[f"quarantine/{source.name}"] = _rows(layout, layout.quarantine / source.name, "*/rejected.parquet")
    out["reports"] = sorted(
        (
            r.source,
            r.batch_id,
            r.status,
            r.rows_in,
            r.rows_admitted,
            r.rows_quarantined,
            sorted(r.quarantined_by_reason.items()),
            sorted(r.examples.items()),
        )
        for r in reports
    )
    return out


@pytest.fixture(scope="module")
def landing(tmp_path_factory: pytest.TempPathFactory) -> Path:
    root = tmp_path_factory.mktemp("groups_landing")
    generate(SMALL, root / "landing", progress=False)
    return root / "landing"


def _copy(landing: Path, root: Path) -> DataLayout:
    shutil.copytree(landing, root / "landing")
    return DataLayout(root)


@dataclass
class GroupedRun:
    """An ingest in groups of about 100 rows, with what was alive each time a group was gated."""

    outcome: dict[str, Any]
    groups: list[tuple[str, set[str], set[str]]]  # source, live batch relations, the group's own


@pytest.fixture(scope="module")
def grouped(landing: Path, tmp_path_factory: pytest.TempPathFactory) -> GroupedRun:
    layout = _copy(landing, tmp_path_factory.mktemp("grouped"))
    groups: list[tuple[str, set[str], set[str]]] = []
    gate_group = runner.gate_group

    def recording(gate: Any, source: Any, group: list[Any]) -> Any:
        live = {
            name
            for (name,) in gate.con.execute(
                "SELECT table_name FROM information_schema.tables WHERE table_catalog = current_database()"
            ).fetchall()
            if name.startswith("batch_")
        }
        groups.append((source.name, live, {name for item in group for name in item.loaded.relations}))
        return gate_group(gate, source, group)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(runner, "gate_group", recording)
        reports = ingest(layout, ingest_settings(group_rows=100))
    return GroupedRun(_outcome(layout, reports), groups)


def test_small_groups_give_the_lake_of_one_group(landing: Path, grouped: GroupedRun, tmp_path: Path) -> None:
    one = _copy(landing, tmp_path / "one")
    expected = _outcome(one, ingest(one, ingest_settings(group_rows=10**9)))
    assert sum(len(v) for k, v in expected.items() if k.startswith("quarantine/")) > 0  # the gate had work
    assert grouped.outcome == expected


def test_at_most_one_group_and_the_next_batch_are_held_at_a_time(grouped: GroupedRun) -> None:
    by_source: dict[str, int] = {}
    for source, live, own in grouped.groups:
        by_source[source] = by_source.get(source, 0) + 1
        assert own <= live
        others = {name.split("__")[0] for name in live - own}  # batch_<n> and its helper relations
        assert len(others) <= 1, f"{source}: batches beyond the group and the next one are held: {others}"
    # Several groups per multi-batch source, so the check above had later batches to catch.
    assert by_source["ratings"] > 1 and by_source["page_views"] > 1 and by_source["order_lines"] > 1
