"""Quality gate building blocks: schema contracts, GX suites on DuckDB, row-level split."""
