"""export_parquet splices a relation and a folder into Spark SQL: it refuses all but plain ones before connecting."""

from __future__ import annotations

from pathlib import Path

import pytest

from shop_analytics.spark.export import export_parquet
from shop_analytics.spark.thrift_server import free_port


@pytest.mark.parametrize(
    ("relation", "folder", "error"),
    [
        ("marts.rpt_item_popularity; drop table x", "/tmp/out", "relation"),
        ("rpt_item_popularity", "/tmp/out", "relation"),
        ("marts.rpt_item_popularity", "/tmp/out' select 1 --", "absolute path"),
        ("marts.rpt_item_popularity", "relative/out", "absolute path"),
    ],
)
def test_export_refuses_unsafe_relations_and_folders(relation: str, folder: str, error: str) -> None:
    # Nothing listens on the port: a statement sent would fail with a connection error instead.
    with pytest.raises(ValueError, match=error):
        export_parquet(free_port(), relation, Path(folder))
