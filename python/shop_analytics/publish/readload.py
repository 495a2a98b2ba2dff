"""Reader load for the serving file: processes that query it in a loop while publishes run.

Used by the concurrency test and bench/bench_publish.py. Each reader runs a query returning
``(min_version, max_version, consistent)``: the versions in `_publication` and whether the data
agrees with it, all in one statement, so one row shows exactly what a single query saw.
"Held" readers keep one connection for the whole run (they must keep seeing the version they
opened); "fresh" readers open a new connection per query (they must move on to new versions).
"""

from __future__ import annotations

import multiprocessing as mp
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from shop_analytics.sql import one_row, quote_ident, quote_literal


def consistency_query(tables: Sequence[tuple[str, str]]) -> str:
    """One statement comparing every table's row count with `_publication` (versions + agreement)."""
    counts = " UNION ALL ".join(
        f"SELECT {quote_literal(schema)} AS s, {quote_literal(name)} AS t, count(*) AS n "
        f"FROM {quote_ident(schema)}.{quote_ident(name)}"
        for schema, name in tables
    )
    return (
        f"WITH counted AS ({counts}) "
        "SELECT min(p.version), max(p.version), bool_and(c.n IS NOT DISTINCT FROM p.row_count) "
        "FROM main._publication p FULL JOIN counted c ON c.s = p.table_schema AND c.t = p.table_name"
    )


@dataclass
class ReaderReport:
    """What one reader process saw."""

    reader: int
    mode: str
    timestamps: list[float] = field(default_factory=list)
    versions: list[int] = field(default_factory=list)
    inconsistent: list[str] = field(default_factory=list)
    errors: list[str] = field(default_factory=list)


def _reader(
    index: int, mode: str, path: str, query: str, threads: int, pause: float, stop: Any, seen: Any, out: Any
) -> None:
    from shop_analytics.publish.reader import connect_serving

    report = ReaderReport(index, mode)
    held = connect_serving(path, threads=threads) if mode == "held" else None
    while not stop.is_set():
        try:
            con = held or connect_serving(path, threads=threads)
            try:
                low, high, consistent = one_row(con, query)
            finally:
                if held is None:
                    con.close()
        except Exception as exc:  # noqa: BLE001 - every failure is a finding to report
            report.errors.append(f"{type(exc).__name__}: {exc}")
            continue
        report.timestamps.append(time.time())
        report.versions.append(high)
        if low != high or not consistent:
            report.inconsistent.append(f"versions {low}..{high}, counts agree: {consistent}")
        seen[index] = high
        if pause:
            stop.wait(pause)  # think time between queries, like a person on a dashboard
    if held is not None:
        held.close()
    out.put(report)


class ReaderPool:
    """`readers` processes querying `path` until stopped; the first `held` keep one connection.

    Each reader uses `threads` DuckDB threads (1 by default: many small queries, like a dashboard)
    and waits `pause` seconds between queries (0: as fast as it can).
    """

    def __init__(
        self, path: Path, query: str, readers: int = 8, held: int = 4, threads: int = 1, pause: float = 0.0
    ) -> None:
        self._ctx = mp.get_context("spawn")  # no fork: DuckDB's threads do not survive fork
        self._stop = self._ctx.Event()
        self._seen = self._ctx.Array("q", [0] * readers)
        self._out = self._ctx.Queue()
        self._modes = ["held" if i < held else "fresh" for i in range(readers)]
        self._processes = [
            self._ctx.Process(
                target=_reader,
                args=(i, mode, str(path), query, threads, pause, self._stop, self._seen, self._out),
                daemon=True,
            )
            for i, mode in enumerate(self._modes)
        ]

    def start(self, timeout: float = 60.0) -> None:
        """Start the readers and wait until each has answered one query."""
        for process in self._processes:
            process.start()
        self._wait(lambda seen: all(v > 0 for v in seen), timeout, "readers to answer a first query")

    def wait_for_version(self, version: int, timeout: float = 60.0, modes: Sequence[str] = ("fresh",)) -> None:
        """Wait until every reader of `modes` has seen `version`."""
        wanted = [i for i, mode in enumerate(self._modes) if mode in modes]
        self._wait(lambda seen: all(seen[i] >= version for i in wanted), timeout, f"readers to see {version}")

    def stop(self, timeout: float = 60.0) -> list[ReaderReport]:
        """Stop the readers and collect their reports."""
        self._stop.set()
        reports = [self._out.get(timeout=timeout) for _ in self._processes]
        for process in self._processes:
            process.join(timeout)
        return sorted(reports, key=lambda r: r.reader)

    def _wait(self, condition: Callable[[list[int]], bool], timeout: float, what: str) -> None:
        deadline = time.monotonic() + timeout
        while not condition(self._seen[:]):
            if time.monotonic() > deadline:
                self._stop.set()
                raise TimeoutError(f"timed out after {timeout} s waiting for {what}; seen: {self._seen[:]}")
            if not all(p.is_alive() for p in self._processes):
                raise RuntimeError("a reader process died")
            time.sleep(0.01)


def queries_between(reports: Sequence[ReaderReport], start: float, end: float) -> int:
    """How many queries all readers answered between two `time.time()` stamps."""
    return sum(1 for r in reports for t in r.timestamps if start <= t <= end)
