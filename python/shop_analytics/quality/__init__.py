"""Quality gate building blocks: schema contracts, GX suites on DuckDB, row-level split.

Nothing is imported here, so `import shop_analytics.quality.contracts` stays fast and
does not pull in Great Expectations. One thing is done here: GX reads GX_ANALYTICS_ENABLED
once, when it is first imported (and would otherwise try to send usage statistics). Every
module that imports GX is in this package, and Python runs this file before any of them, so
setting the variable here covers them all, with no import-order tricks. Entry points for ingest:

- contracts.check_schema(effective_contract(source, contracts_dir, accepted), columns) -> ContractCheck
- namespace: the gate's reserved column prefix (__gate_) and the names an input may not use
- batch.create_batch_view(con, name, files) -> view with a deterministic __gate_row_number
- validate.validate_batch(con, relation, source, RuleParams(...)) -> BatchValidation
- split.admitted_sql / split.quarantined_sql(relation, reasons_table) -> SELECT text
- gx_duckdb.new_context() and data_docs.build_data_docs(context, out_dir) -> index.html
- rules_sql.row_reasons_sql(relation, rules) -> the single-pass SQL reference

shop_analytics.ingest.runner wires these into `shop-analytics ingest` (docs/quality_gate.md).
"""

import os

os.environ["GX_ANALYTICS_ENABLED"] = "false"
