{#- Input keys of the retrained models (docs/incremental.md, "Recommendations: retrained
    when their inputs change").

    The recommendation chain retrains whole, but only when what it reads changed: the
    same inputs and the same code give the same table. Each retrained model's input key
    is a digest of
    - its compiled code (SQL with the vars it uses, or a Python model's code and config)
      and the shop_analytics package's Python source (UDF shop_analytics_code_digest);
    - for each parent model stored as a table: the input key recorded when that table was
      built (a parent table without one, such as an incremental model, makes the key
      unknown: the model always retrains);
    - for each parent view: its definition as DuckDB stores it, and for every lake source
      upstream of it the ingested batches (source, batch id, commit_seq) through the
      audit's highest commit_seq and the names of the files in the source's folder (so a
      file written around ingest counts too);
    - for each parent seed: a digest of its rows.
    The key is recorded in _shop_meta.retrain_inputs (created by incremental_state_setup)
    after the table is built and committed (never before: a failed build leaves no key, and
    the next build retrains). stg_shop__ingest_audit, a parent of every model for the watermark hooks,
    is left out: its rows are the batches themselves, counted per source above. -#}

{#- A digest of the lake source `name`'s ingested batches through commit_seq `through` and of the
    file names in its folder. -#}
{% macro lake_source_digest(name, through) -%}
    {%- set source_node = (graph.sources.values() | selectattr('source_name', 'equalto', 'shop')
        | selectattr('name', 'equalto', name) | list)[0] -%}
    {%- set found = run_query(
        "select (select count(*) || ':' || coalesce(sum(hash(batch_id, commit_seq)), 0) from "
        ~ ref('stg_shop__ingest_audit') ~ " where batch_status = 'ingested' and source_name = "
        ~ build_marker_literal(name) ~ " and commit_seq <= " ~ through ~ "), "
        ~ "(select count(*) || ':' || coalesce(sum(hash(file)), 0) from glob('"
        ~ lake_source_glob(source_node) ~ "'))") -%}
    {{ return(found.rows[0][0] ~ '/' ~ found.rows[0][1]) }}
{%- endmacro %}


{#- What the input key holds of parent `unique_id` (see the header); none when its content is unknown. -#}
{% macro parent_input_part(unique_id, through) -%}
    {%- set node = graph.nodes.get(unique_id) -%}
    {%- if node is none -%}
        {{ return(lake_source_digest(graph.sources[unique_id].name, through)) }}
    {%- endif -%}
    {%- set name = build_marker_literal(node.alias or node.name) -%}
    {%- if node.resource_type == 'seed' -%}
        {%- set rows = run_query("select count(*) || ':' || coalesce(sum(hash(seed_rows.*)), 0) from "
            ~ adapter.get_relation(node.database, node.schema, node.alias or node.name) ~ " as seed_rows") -%}
        {{ return(rows.rows[0][0]) }}
    {%- endif -%}
    {%- if node.config.materialized != 'view' -%}
        {%- set stored = run_query("select input_key from _shop_meta.retrain_inputs where model = " ~ name) -%}
        {{ return(stored.rows[0][0] if stored.rows | length == 1 else none) }}
    {%- endif -%}
    {%- set view = run_query("select sql from duckdb_views() where database_name = "
        ~ build_marker_literal(node.database) ~ " and schema_name = " ~ build_marker_literal(node.schema)
        ~ " and view_name = " ~ name) -%}
    {%- set lake = [] -%}
    {%- for source_name in lake_sources_upstream(unique_id) -%}
        {%- do lake.append(source_name ~ '=' ~ lake_source_digest(source_name, through)) -%}
    {%- endfor -%}
    {{ return(local_md5(view.rows[0][0]) ~ '|' ~ lake | join('|') if view.rows | length == 1 else none) }}
{%- endmacro %}


{#- This model's inputs: a dict of `key` (the input key, or none when a parent's content is
    unknown), `through` (the audit's highest ingested commit_seq the key covers) and `unknown`
    (those parents). -#}
{% macro retrain_inputs(code) -%}
    {%- set head = run_query(
        "select coalesce(max(commit_seq), 0), shop_analytics_code_digest() from "
        ~ ref('stg_shop__ingest_audit') ~ " where batch_status = 'ingested'") -%}
    {%- set through = head.rows[0][0] | int -%}
    {%- set parts = {'code': local_md5(code), 'package': head.rows[0][1]} -%}
    {%- set unknown = [] -%}
    {%- for parent in model.depends_on.nodes if parent.split('.')[-1] != 'stg_shop__ingest_audit' -%}
        {%- set part = parent_input_part(parent, through) -%}
        {%- do (unknown.append(parent) if part is none else parts.update({parent: part})) -%}
    {%- endfor -%}
    {%- set key = none if unknown else local_md5(tojson(parts, sort_keys=true)) -%}
    {{ return({'key': key, 'through': through, 'unknown': unknown}) }}
{%- endmacro %}


{#- True when this model's stored table was built from `inputs` (and no --full-refresh asks for a retrain). -#}
{% macro retrain_inputs_unchanged(inputs, existing_relation) -%}
    {%- if flags.FULL_REFRESH or inputs.key is none or existing_relation is none -%}
        {{ return(false) }}
    {%- endif -%}
    {%- set stored = run_query("select input_key from _shop_meta.retrain_inputs where model = "
        ~ build_marker_literal(this.identifier)) -%}
    {{ return(stored.rows | length == 1 and stored.rows[0][0] == inputs.key) }}
{%- endmacro %}


{#- Keep the stored table: its window moves to `inputs.through` (bounded by the watermarked
    parents, as a build's would), committed at once. This is the model's 'main' statement. -#}
{% macro retrain_skipped(inputs) -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {% call statement('main') -%}
        {{ batch_window_open(watermarked_parents(), through=inputs.through) }}
        {{ batch_window_close() }}
        update _shop_meta.retrain_inputs
        set through = {{ inputs.through }}, invocation_id = {{ build_marker_literal(invocation_id) }},
            updated_at = timezone('UTC', now())
        where model = {{ build_marker_literal(this.identifier) }};
    {%- endcall %}
    {{ adapter.commit() }}
    {% do log(model.name ~ ": inputs unchanged (through commit_seq " ~ inputs.through ~ "): not retrained",
        info=True) %}
    {{ return({'relations': [target_relation]}) }}
{%- endmacro %}


{#- Log the parents whose content has no input key: they make this model retrain on every build. -#}
{% macro retrain_reason_log(inputs, existing_relation) -%}
    {%- if inputs.key is not none or flags.FULL_REFRESH or existing_relation is none -%}
        {{ return('') }}
    {%- endif -%}
    {% do log(model.name ~ ": retrained on every build: no input key for " ~ inputs.unknown | join(', '), info=True) %}
{%- endmacro %}


{#- Forget this model's key before it is rebuilt, committed at once: whatever happens to the
    build, the stored key never describes a table it did not build. Parents without a key are logged. -#}
{% macro retrain_inputs_forget(inputs, existing_relation) -%}
    {%- do retrain_reason_log(inputs, existing_relation) -%}
    {% call statement('retrain_inputs_forget') -%}
        delete from _shop_meta.retrain_inputs where model = {{ build_marker_literal(this.identifier) }};
    {%- endcall %}
    {{ adapter.commit() }}
{%- endmacro %}


{#- Record the key of the table just built and committed (see the header: never before). -#}
{% macro retrain_inputs_record(inputs) -%}
    {% call statement('retrain_inputs_record') -%}
        {#- retrain_inputs_forget deleted the old key before the build. -#}
        {% if inputs.key is not none -%}
        insert into _shop_meta.retrain_inputs
            (model, input_key, through, built_invocation_id, built_at, invocation_id, updated_at)
        values (
            {{ build_marker_literal(this.identifier) }},
            {{ build_marker_literal(inputs.key) }},
            {{ inputs.through }},
            {{ build_marker_literal(invocation_id) }},
            timezone('UTC', now()),
            {{ build_marker_literal(invocation_id) }},
            timezone('UTC', now())
        );
        {%- endif %}
    {%- endcall %}
    {{ adapter.commit() }}
{%- endmacro %}
