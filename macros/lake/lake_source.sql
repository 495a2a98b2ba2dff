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
    {%- set relation = source('shop', table_name) -%}
    {%- set stub -%}
        select
        {%- for name, type in columns.items() %}
            cast(null as {{ type }}) as {{ name }}{{ "," if not loop.last }}
        {%- endfor %}
        where false
    {%- endset -%}
    {%- if execute and not lake_has_files(relation) -%}
        ({{ stub }})
    {%- else -%}
        (select * from {{ relation }} union all by name {{ stub }})
    {%- endif -%}
{%- endmacro %}

{#- True when the file pattern of a read_parquet(...) source matches at least one file. -#}
{% macro lake_has_files(relation) -%}
    {%- set match = modules.re.search("read_parquet\\(\\s*'([^']*)'", relation | string) -%}
    {%- if not match -%}
        {{ exceptions.raise_compiler_error("lake_source: cannot find the read_parquet path of " ~ relation) }}
    {%- endif -%}
    {%- set found = run_query("select count(*) from glob('" ~ match.group(1) ~ "')") -%}
    {{ return(found.columns[0].values()[0] > 0) }}
{%- endmacro %}
