{#- Materialization `retrained_table`: a table (SQL or Python model) rebuilt whole, but only
    when its inputs changed since its stored table was built (macros/incremental/retrain_inputs.sql,
    docs/incremental.md). Otherwise the stored table stays and its watermark moves to the
    audit's current horizon. `dbt build --full-refresh` always rebuilds.

    The build is that of a table: under a temporary name, swapped in at the end (readers never
    see a half-built table). It is written out here rather than delegated to dbt-duckdb's
    `table` materialization because dbt runs a Python model only from a materialization's own
    'main' statement. -#}
{% materialization retrained_table, adapter="duckdb", supported_languages=['sql', 'python'] %}
    {%- set language = model['language'] -%}
    {%- set existing_relation = load_cached_relation(this) -%}
    {%- set inputs = retrain_inputs(compiled_code) -%}
    {%- if retrain_inputs_unchanged(inputs, existing_relation) -%}
        {{ return(retrain_skipped(inputs)) }}
    {%- endif -%}
    {%- do retrain_inputs_forget(inputs, existing_relation) -%}

    {%- set target_relation = this.incorporate(type='table') -%}
    {%- set intermediate_relation = make_intermediate_relation(target_relation) -%}
    {%- set backup_type = 'table' if existing_relation is none else existing_relation.type -%}
    {%- set backup_relation = make_backup_relation(target_relation, backup_type) -%}
    {{ drop_relation_if_exists(load_cached_relation(intermediate_relation)) }}
    {{ drop_relation_if_exists(load_cached_relation(backup_relation)) }}

    {{ run_hooks(pre_hooks, inside_transaction=False) }}
    {{ run_hooks(pre_hooks, inside_transaction=True) }}
    {% call statement('main', language=language) -%}
        {{- create_table_as(False, intermediate_relation, compiled_code, language) }}
    {%- endcall %}
    {{ swap_in_built_table(existing_relation, intermediate_relation, target_relation, backup_relation) }}
    {%- do retrain_inputs_record(inputs) -%}
    {{ return({'relations': [target_relation]}) }}
{% endmaterialization %}


{#- The end of a table build under a temporary name (retrained_table, insert_by_bucket): the
    built table takes the target's name, the post-hooks run, the docs persist, and the old
    table is dropped once the swap has committed. -#}
{% macro swap_in_built_table(existing_relation, intermediate_relation, target_relation, backup_relation) -%}
    {% if existing_relation is not none %}
        {{ adapter.rename_relation(existing_relation, backup_relation) }}
    {% endif %}
    {{ adapter.rename_relation(intermediate_relation, target_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=True) }}
    {% do persist_docs(target_relation, model) %}
    {{ adapter.commit() }}
    {{ drop_relation_if_exists(backup_relation) }}
    {{ run_hooks(post_hooks, inside_transaction=False) }}
{%- endmacro %}
