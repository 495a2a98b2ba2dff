"""dbt-duckdb plugin that registers the sketch UDFs (``shop_analytics.dbt.udfs``) on every connection.

Declared in profiles.yml::

    plugins:
      - module: shop_analytics.dbt.plugin
        config:
          udf_cache_size: 8           # optional: Bloom filters kept deserialized per connection
          arrow_memory_pool: system   # optional: Arrow allocator of the dbt process (see below)

dbt-duckdb calls ``configure_connection`` once on the parent connection and
``configure_cursor`` on every cursor it hands to a node (each model and data
test). Python UDFs live in the database instance's catalog, so every cursor of
the parent connection sees them and ``configure_cursor`` does nothing; a
reconnect opens a new parent connection, which ``configure_connection``
registers again. Checking each cursor cost 7 to 8 ms per node: with the
profile's options SET per cursor, 28% of a `dbt test` of the project
(bench/RESULTS.md, "dbt's fixed cost per node").

``arrow_memory_pool`` (system, jemalloc or mimalloc; unset keeps pyarrow's
default) picks the allocator of Arrow buffers in the dbt process. The
streaming Python models allocate and free Arrow buffers range after range;
pyarrow's default mimalloc pool keeps about 20 to 40 MiB of freed pages
resident, while the system allocator hands them back, which is what keeps
the streaming models under their 500 MB budget (docs/streaming.md).
"""

from __future__ import annotations

from typing import Any

import pyarrow as pa
from dbt.adapters.duckdb.plugins import BasePlugin

from shop_analytics.dbt.udfs import register_udfs

DEFAULT_CACHE_SIZE = 8


class Plugin(BasePlugin):
    """Registers stable_hash64, bloom_contains, hll_* and topk_items as vectorized Arrow UDFs."""

    def initialize(self, plugin_config: dict[str, Any]) -> None:
        """Read the optional ``udf_cache_size`` (Bloom filters cached per connection)."""
        raw = plugin_config.get("udf_cache_size", DEFAULT_CACHE_SIZE)
        try:
            size = int(raw)
        except (TypeError, ValueError):
            raise ValueError(f"shop_analytics.dbt.plugin: udf_cache_size must be an integer, got {raw!r}") from None
        if size < 1:
            raise ValueError(f"shop_analytics.dbt.plugin: udf_cache_size must be >= 1, got {size}")
        self.cache_size = size
        pool = plugin_config.get("arrow_memory_pool")
        if pool is not None:
            makers = {
                "system": pa.system_memory_pool,
                "jemalloc": pa.jemalloc_memory_pool,
                "mimalloc": pa.mimalloc_memory_pool,
            }
            if pool not in makers:
                raise ValueError(
                    f"shop_analytics.dbt.plugin: arrow_memory_pool must be one of {sorted(makers)}, got {pool!r}"
                )
            # Process-wide by nature: Arrow has one default pool per process.
            pa.set_memory_pool(makers[pool]())

    def configure_connection(self, conn: Any) -> None:
        """Register the UDFs on the parent connection."""
        register_udfs(conn, cache_size=self.cache_size)

    def configure_cursor(self, cursor: Any) -> None:
        """Nothing to do: a cursor shares its parent connection's UDFs."""
