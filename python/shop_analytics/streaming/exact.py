"""Exact grouped partial aggregates (count, sum, min, max, mean) that merge across chunks.

Each batch is reduced with Arrow's hash aggregation to one partial row per
group; partials are re-aggregated (count and sum add, min and max take the
extreme) whenever the pending partials outgrow the compacted state, so a
group that spans chunk boundaries ends up as exactly one correct row. Memory
is O(groups + batch size). Float sums may differ in the last bits between
chunkings (addition order); integer results are identical.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

import pyarrow as pa
import pyarrow.compute as pc

_FUNCS = ("count", "count_all", "sum", "min", "max", "mean")
# How a partial of each function is re-aggregated.
_REAGG = {"count": "sum", "count_all": "sum", "sum": "sum", "min": "min", "max": "max"}


@dataclass
class GroupedState:
    """Compacted partials plus not-yet-compacted ones."""

    compacted: pa.Table | None = None
    pending: list[pa.Table] = field(default_factory=list)
    pending_rows: int = 0


class GroupedAggregate:
    """Exact GROUP BY aggregation as an Aggregator.

    aggregates maps output name -> (function, column); functions are count
    (non-null values of column), count_all (rows; column None), sum, min,
    max and mean. Example: ``GroupedAggregate(["item_id"], {"views":
    ("count_all", None), "last_view": ("max", "viewed_at")})``. With no keys
    the result has one row (global aggregate). finalize returns a table sorted
    by the keys (nulls last) with the keys then the aggregates as columns.
    """

    def __init__(
        self, keys: Sequence[str], aggregates: Mapping[str, tuple[str, str | None]], compact_rows: int = 65_536
    ) -> None:
        self.keys = list(keys)
        if not aggregates:
            raise ValueError("at least one aggregate is required")
        self.aggregates = dict(aggregates)
        for name, (func, col) in self.aggregates.items():
            if func not in _FUNCS:
                raise ValueError(f"aggregate {name!r}: unknown function {func!r}; use one of {_FUNCS}")
            if func != "count_all" and not col:
                raise ValueError(f"aggregate {name!r}: {func} needs a column")
            if name in self.keys:
                raise ValueError(f"aggregate name {name!r} clashes with a key column")
        # mean is carried as a sum and a count partial and divided at the end.
        self._partials: dict[str, tuple[str, str | None]] = {}
        for name, (func, col) in self.aggregates.items():
            if func == "mean":
                self._partials[f"__sum_{name}"] = ("sum", col)
                self._partials[f"__cnt_{name}"] = ("count", col)
            else:
                self._partials[name] = (func, col)
        self.compact_rows = compact_rows

    def _first_pass(self, batch: pa.RecordBatch | pa.Table) -> pa.Table:
        table = pa.Table.from_batches([batch]) if isinstance(batch, pa.RecordBatch) else batch
        missing = [c for c in self.keys + [c for _, c in self._partials.values() if c] if c not in table.column_names]
        if missing:
            raise KeyError(f"columns {missing} not in batch with columns {table.column_names}")
        specs: list[tuple[Any, ...]] = []
        for func, col in self._partials.values():
            if func == "count_all":
                specs.append(([], "count_all"))
            elif func == "count":
                specs.append((col, "count", pc.CountOptions(mode="only_valid")))
            else:
                specs.append((col, func))
        out = table.group_by(self.keys, use_threads=False).aggregate(specs)
        return self._rename(out)

    def _rename(self, out: pa.Table) -> pa.Table:
        # Arrow names outputs "<col>_<func>" (names can repeat), so map by position.
        agg_arrays = [out.column(i) for i, c in enumerate(out.column_names) if c not in self.keys]
        if len(agg_arrays) != len(self._partials):
            raise RuntimeError(f"unexpected aggregate output columns {out.column_names}")
        cols = {k: out.column(k) for k in self.keys}
        cols.update(zip(self._partials, agg_arrays, strict=True))
        return pa.table(cols)

    def _reaggregate(self, table: pa.Table) -> pa.Table:
        specs = [(name, _REAGG[func]) for name, (func, _) in self._partials.items()]
        out = table.group_by(self.keys, use_threads=False).aggregate(specs)
        return self._rename(out)

    def _compact(self, state: GroupedState) -> GroupedState:
        parts = ([state.compacted] if state.compacted is not None else []) + state.pending
        if parts:
            state.compacted = self._reaggregate(pa.concat_tables(parts, promote_options="permissive"))
        state.pending, state.pending_rows = [], 0
        return state

    def _maybe_compact(self, state: GroupedState) -> GroupedState:
        base = 0 if state.compacted is None else state.compacted.num_rows
        # Amortized: compaction cost is paid once the pending rows match the state size.
        if state.pending_rows >= max(self.compact_rows, base):
            return self._compact(state)
        return state

    def init(self) -> GroupedState:
        """Empty state."""
        return GroupedState()

    def update(self, state: GroupedState, batch: pa.RecordBatch) -> GroupedState:
        """Fold one batch in."""
        if batch.num_rows == 0:
            return state
        partial = self._first_pass(batch)
        state.pending.append(partial)
        state.pending_rows += partial.num_rows
        return self._maybe_compact(state)

    def merge(self, a: GroupedState, b: GroupedState) -> GroupedState:
        """Combine two states."""
        if b.compacted is not None:
            a.pending.append(b.compacted)
            a.pending_rows += b.compacted.num_rows
        a.pending.extend(b.pending)
        a.pending_rows += b.pending_rows
        return self._maybe_compact(a)

    def finalize(self, state: GroupedState) -> pa.Table:
        """Result table sorted by keys."""
        state = self._compact(state)
        table = state.compacted
        if table is None:
            if self.keys:
                raise ValueError("no rows were aggregated, so the key types are unknown")
            table = self._first_pass(pa.table({c: pa.array([], pa.int64()) for _, c in self._partials.values() if c}))
        if self.keys:
            table = table.sort_by([(k, "ascending") for k in self.keys])
        cols = {k: table.column(k) for k in self.keys}
        for name, (func, _) in self.aggregates.items():
            if func == "mean":
                s = table.column(f"__sum_{name}").cast(pa.float64())
                n = table.column(f"__cnt_{name}")
                cols[name] = pc.if_else(
                    pc.equal(n, 0), pa.scalar(None, pa.float64()), pc.divide(s, n.cast(pa.float64()))
                )
            else:
                cols[name] = table.column(name)
        return pa.table(cols)
