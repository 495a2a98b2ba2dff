"""Quality gate building blocks: schema contracts, GX suites on DuckDB, row-level split.

Nothing is imported here, so `import shop_analytics.quality.contracts` stays fast and
does not pull in Great Expectations. Entry points for ingest:

- contracts.check_batch_contract(con, files, source, contracts_dir) -> ContractCheck
- batch.create_batch_view(con, name, files) -> view with a deterministic row_number
- validate.validate_batch(con, relation, source, RuleParams(...)) -> BatchValidation
- split.admitted_sql / split.quarantined_sql(relation, reasons_table) -> SELECT text
- gx_duckdb.new_context() and data_docs.build_data_docs(context, out_dir) -> index.html
- rules_sql.row_reasons_sql(relation, rules) -> the single-pass SQL reference

shop_analytics.ingest.runner wires these into `shop-analytics ingest` (docs/quality_gate.md).
"""
