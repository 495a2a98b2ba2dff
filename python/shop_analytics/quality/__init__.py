"""Quality gate building blocks: schema contracts, GX suites on DuckDB, row-level split.

Nothing is imported here, so `import shop_analytics.quality.contracts` stays fast and
does not pull in Great Expectations. Entry points for ingest:

- contracts.check_schema(effective_contract(source, contracts_dir, accepted), columns) -> ContractCheck
- namespace: the gate's reserved column prefix (__gate_) and the names an input may not use
- batch.create_batch_view(con, name, files) -> view with a deterministic __gate_row_number
- validate.validate_batch(con, relation, source, RuleParams(...)) -> BatchValidation
- split.admitted_sql / split.quarantined_sql(relation, reasons_table) -> SELECT text
- gx_duckdb.new_context() and data_docs.build_data_docs(context, out_dir) -> index.html
- rules_sql.row_reasons_sql(relation, rules) -> the single-pass SQL reference

shop_analytics.ingest.runner wires these into `shop-analytics ingest` (docs/quality_gate.md).
"""
