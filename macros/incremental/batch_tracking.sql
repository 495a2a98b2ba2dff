{#- What the batch tracking of an incremental model (docs/incremental.md) needs besides its
    SQL. On Spark the batch-tracked models build as full tables (docs/spark.md): they
    track no batch, read no ingest audit and write no tombstone. -#}

{#- A `-- depends_on:` line for the ingest audit, which the batch-window hooks read (dbt
    cannot see a ref inside a hook). -#}
{% macro ingest_audit_dependency() -%}
    {{ return(adapter.dispatch('ingest_audit_dependency', 'shop_analytics')()) }}
{%- endmacro %}

{% macro default__ingest_audit_dependency() -%}
    -- depends_on: {{ ref('stg_shop__ingest_audit') }}
{%- endmacro %}

{#- On Spark the batch watermark hooks do not run (docs/spark.md): no model reads the audit first. -#}
{% macro spark__ingest_audit_dependency() -%}
    {{ return('') }}
{%- endmacro %}

{#- Post-hook: delete the tombstones an incremental run wrote for keys that vanished. -#}
{% macro delete_tombstones(condition) -%}
    {{ return(adapter.dispatch('delete_tombstones', 'shop_analytics')(condition)) }}
{%- endmacro %}

{% macro default__delete_tombstones(condition) -%}
    delete from {{ this }} where {{ condition }}
{%- endmacro %}

{#- A full build writes no tombstone, and Parquet tables take no DELETE. -#}
{% macro spark__delete_tombstones(condition) -%}
    {{ return('') }}
{%- endmacro %}

{#- The model's final select: its rows and the tombstones (key columns and a zero count), by
    column name, so a tombstone's other columns are NULL. -#}
{% macro union_tombstones(rows_cte, tombstones_cte) -%}
    {{ return(adapter.dispatch('union_tombstones', 'shop_analytics')(rows_cte, tombstones_cte)) }}
{%- endmacro %}

{% macro default__union_tombstones(rows_cte, tombstones_cte) -%}
    select * from {{ rows_cte }}  -- noqa: AM07
    union all by name
    select * from {{ tombstones_cte }}
{%- endmacro %}

{#- Spark SQL has no UNION BY NAME; a full build has no tombstone (the tombstone CTE is
    empty by its `where false`), so the rows alone are the same result. -#}
{% macro spark__union_tombstones(rows_cte, tombstones_cte) -%}
    {%- if is_incremental() -%}
        {{ exceptions.raise_compiler_error("incremental builds of " ~ this.identifier ~ " are not ported to Spark") }}
    {%- endif %}
    select * from {{ rows_cte }}
{%- endmacro %}
