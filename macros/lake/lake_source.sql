{#- A lake source that may be absent or empty (docs/marts.md, "Empty or
    absent sources").

    Returns a parenthesized query over source('shop', `table_name`) with the
    typed empty stub `columns` (name -> SQL type) unioned BY NAME, so
    - a folder with no Parquet file yields the stub alone: zero rows of the
      declared types instead of a "no files found" error;
    - files of an older contract version that lack a newer nullable column
      yield NULL in it, and integer keys of older lakes widen to VARCHAR
      exactly (42 -> '42');
    - a zero-row Parquet file needs nothing special.
    The file check runs when the model is built (run_query), not when the
    project is parsed, so a view always reflects the lake of its last build:
    `dbt build` again after a source's first batch arrives. -#}
{% macro lake_source(table_name, columns) -%}
    {{ return(adapter.dispatch('lake_source', 'shop_analytics')(table_name, columns)) }}
{%- endmacro %}

{% macro default__lake_source(table_name, columns) -%}
    {%- set relation = source('shop', table_name) -%}
    {%- if execute and not lake_has_files(relation) -%}
        ({{ lake_stub(columns) }})
    {%- else -%}
        (select * from {{ relation }} union all by name {{ lake_stub(columns) }})
    {%- endif -%}
{%- endmacro %}

{#- Spark reads the source's external table (macros/spark/lake_tables.sql). A source without a
    table (create_lake_tables leaves out a folder with no Parquet file) is the stub alone; a
    declared column the files lack is NULL of its declared type; `filename` is each row's file
    (_metadata.file_path, a file: URI whose name ends as on DuckDB). -#}
{% macro spark__lake_source(table_name, columns) -%}
    {%- set relation = source('shop', table_name) -%}
    {%- set found = none -%}
    {%- if execute -%}
        {%- set found = adapter.get_relation(relation.database, relation.schema, relation.identifier) -%}
    {%- endif -%}
    {%- if found is none -%}
        ({{ lake_stub(columns) }})
    {%- else -%}
        {%- set present = adapter.get_columns_in_relation(found) | map(attribute='name') | map('lower') | list -%}
        (select *
        {%- for name, type in columns.items() if name != 'filename' and name | lower not in present %},
            cast(null as {{ type }}) as {{ name }}
        {%- endfor %}
        {%- if 'filename' in columns %}, _metadata.file_path as filename{% endif %}
        from {{ relation }})
    {%- endif -%}
{%- endmacro %}

{#- Zero rows of the declared columns (name -> SQL type). -#}
{% macro lake_stub(columns) -%}
    select
    {%- for name, type in columns.items() %}
        cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
    {%- endfor %}
    where false
{%- endmacro %}

{#- True when the file pattern of a read_parquet(...) source matches at least one file. -#}
{% macro lake_has_files(relation) -%}
    {%- set found = run_query("select count(*) from glob('" ~ lake_file_glob(relation | string) ~ "')") -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}
