"""A Spark table's rows as Parquet written by the Thrift Server itself (no driver-side conversion of values)."""

from __future__ import annotations

import re
from pathlib import Path

from shop_analytics.spark.thrift_server import BIND_HOST

# Names and paths are spliced into the statement: only plain ones are accepted.
_RELATION = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_SAFE_PATH = re.compile(r"^/[A-Za-z0-9_./-]+$")


def export_parquet(port: int, relation: str, folder: Path, host: str = BIND_HOST) -> None:
    """Write every row of `relation` (schema.name) on the Thrift Server at host:`port` into `folder` as Parquet.

    The folder is replaced. Timestamps are written as microsecond UTC instants.
    """
    if not _RELATION.match(relation):
        raise ValueError(f"not a plain schema.name relation: {relation!r}")
    if not _SAFE_PATH.match(str(folder)):
        raise ValueError(f"not an absolute path of letters, digits and _ . / -: {str(folder)!r}")
    from pyhive import hive  # requirements/spark.lock (`make spark`)

    connection = hive.connect(host=host, port=port)
    try:
        cursor = connection.cursor()
        cursor.execute("set spark.sql.parquet.outputTimestampType=TIMESTAMP_MICROS")
        cursor.execute(f"insert overwrite directory '{folder}' using parquet select * from {relation}")
    finally:
        connection.close()
