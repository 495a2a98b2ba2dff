{#-
  Materialization `insert_by_bucket`: builds a table in passes. The model's SQL
  contains the token __BUCKET__ and the marker __BUCKETS__=n (both written by the
  `user_bucket_filter` macro); each pass replaces __BUCKET__ with one bucket
  number and appends that bucket's rows, so a pass holds 1/n of the work in memory.
  With config `bucket_datasets` (a list of dataset names), the model's SQL also
  contains the token __DATASET__ (e.g. `where dataset = '__DATASET__'`), and the
  passes build one dataset after the other, each in its n buckets: a pass holds
  what a pass of a one-dataset model held.
  Same pattern as dbt-labs' insert_by_period, with hash buckets instead of dates.
  The table is built under a temporary name and swapped in at the end, so
  readers never see a half-built table.
-#}
{% materialization insert_by_bucket, adapter="duckdb" %}

    {%- set markers = modules.re.findall('__BUCKETS__=([0-9]+)', compiled_code) | unique | list -%}
    {%- if '__BUCKET__' not in compiled_code or markers | length != 1 -%}
        {{ exceptions.raise_compiler_error("insert_by_bucket: model " ~ model.name
            ~ " needs exactly one bucket count; filter it with user_bucket_filter(column, n_buckets)") }}
    {%- endif -%}
    {%- set n_buckets = markers[0] | int -%}
    {%- set datasets = config.get('bucket_datasets') -%}
    {%- if datasets is none -%}
        {%- set datasets = [none] -%}
    {%- else -%}
        {%- if '__DATASET__' not in compiled_code or datasets | length == 0 -%}
            {{ exceptions.raise_compiler_error("insert_by_bucket: model " ~ model.name
                ~ " sets bucket_datasets, so its SQL must select one dataset with '__DATASET__'") }}
        {%- endif -%}
        {%- for dataset in datasets -%}
            {%- if not modules.re.fullmatch('[a-z][a-z0-9_]*', dataset | string) -%}
                {{ exceptions.raise_compiler_error("insert_by_bucket: model " ~ model.name
                    ~ ": dataset names are lower-case identifiers, got " ~ dataset) }}
            {%- endif -%}
        {%- endfor -%}
    {%- endif -%}

    {%- set existing_relation = load_cached_relation(this) -%}
    {#- With config retrain_when_inputs_change (as `retrained_table` always does): keep the
        stored table when its inputs did not change (macros/incremental/retrain_inputs.sql). -#}
    {%- set inputs = retrain_inputs(compiled_code) if config.get('retrain_when_inputs_change', false) else none -%}
    {%- if inputs is not none -%}
        {%- if retrain_inputs_unchanged(inputs, existing_relation) -%}
            {{ return(retrain_skipped(inputs)) }}
        {%- endif -%}
        {%- do retrain_inputs_forget(inputs, existing_relation) -%}
    {%- endif -%}
    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_relation = make_backup_relation(target_relation, 'table') -%}
    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}

    {%- set passes = [] -%}
    {%- for dataset in datasets -%}
        {%- for bucket in range(n_buckets) -%}
            {%- set code = compiled_code | replace('__BUCKET__', bucket | string) -%}
            {%- do passes.append(code if dataset is none else code | replace('__DATASET__', dataset)) -%}
        {%- endfor -%}
    {%- endfor -%}

    {#- The first pass creates the table, which also enforces the model contract. -#}
    {% call statement('main') -%}
        {{ create_table_as(False, intermediate_relation, passes[0]) }}
    {%- endcall %}
    {% for code in passes[1:] %}
        {% call statement('pass_' ~ loop.index) -%}
            insert into {{ intermediate_relation }}
            select * from ({{ code }}) as bucket_rows
        {%- endcall %}
    {% endfor %}
    {% do log(model.name ~ ": built in " ~ passes | length ~ " passes ("
        ~ (datasets | length ~ " datasets x " if datasets[0] is not none else "")
        ~ n_buckets ~ " user-hash buckets)", info=True) %}

    {{ swap_in_built_table(existing_relation, intermediate_relation, target_relation, backup_relation) }}
    {%- if inputs is not none -%}{%- do retrain_inputs_record(inputs) -%}{%- endif -%}

    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}
