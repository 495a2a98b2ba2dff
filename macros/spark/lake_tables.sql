{#- The lake as Spark tables (docs/spark.md): `dbt run-operation create_lake_tables --target spark`.

    DuckDB reads the lake through each source's read_parquet(...) (meta.external_location in
    models/staging/_shop__sources.yml); Spark reads it through one external Parquet table per
    source, <source schema>.<table> (shop.page_views, ...), so that source('shop', ...) resolves
    on both engines. The folder of each table is taken from that same external_location, so the
    two engines always read the same files. Facts are hive-partitioned by event_date: the table
    declares the partition column Spark discovers, and `msck repair table` registers every
    partition folder, so a filter on event_date prunes partitions as on DuckDB.

    Each run drops and re-creates the tables (an external table's drop keeps its files), so they
    follow the lake's current files and columns. Spark cannot infer a schema from a folder with
    no Parquet file, so `tables` names the sources to register (default: all); a source left out
    has no table and staging reads it as empty (lake_source).

    The lake path and every name are validated before they reach SQL: names are identifiers of
    [a-z0-9_] and are quoted; the path is absolute and of a safe character set. -#}
{% macro create_lake_tables(tables=none) -%}
    {{ return(adapter.dispatch('create_lake_tables', 'shop_analytics')(tables)) }}
{%- endmacro %}

{% macro default__create_lake_tables(tables) -%}
    {{ exceptions.raise_compiler_error(
        "create_lake_tables is for --target spark: " ~ target.type ~ " reads the lake through read_parquet sources"
    ) }}
{%- endmacro %}

{% macro spark__create_lake_tables(tables) -%}
    {%- set lake_sources = lake_source_folders() -%}
    {%- set wanted = lake_sources.keys() | list if tables is none else tables -%}
    {%- for name in wanted -%}
        {%- if name not in lake_sources -%}
            {{ exceptions.raise_compiler_error(
                "create_lake_tables: no lake source named " ~ name ~ "; known: " ~ (lake_sources.keys() | join(', '))
            ) }}
        {%- endif -%}
    {%- endfor -%}
    {%- for name in wanted -%}
        {%- set found = lake_sources[name] -%}
        {%- set schema = adapter.quote(lake_identifier(found.schema)) -%}
        {%- set table = schema ~ '.' ~ adapter.quote(lake_identifier(name)) -%}
        {%- do run_query('create database if not exists ' ~ schema) -%}
        {%- do run_query('drop table if exists ' ~ table) -%}
        {%- do run_query(
            'create table ' ~ table ~ ' using parquet'
            ~ " options (mergeSchema 'true')"
            ~ " location '" ~ found.folder ~ "'"
        ) -%}
        {%- if found.partitioned -%}
            {%- do run_query('msck repair table ' ~ table) -%}
        {%- endif -%}
        {%- set partitioning = ' (partitioned by event_date)' if found.partitioned else '' -%}
        {%- do log('lake table ' ~ table ~ ' over ' ~ found.folder ~ partitioning, info=true) -%}
    {%- endfor -%}
{%- endmacro %}

{#- source table name -> {schema, folder, partitioned} for every table of source `shop`, from the
    read_parquet path of its external_location. -#}
{% macro lake_source_folders() -%}
    {%- set found = {} -%}
    {%- for node in graph.sources.values() if node.source_name == 'shop' -%}
        {%- set pattern = lake_source_glob(node) -%}
        {%- set parts = modules.re.match('^(.*?)/(event_date=\\*/)?\\*\\.parquet$', pattern) -%}
        {%- if not parts -%}
            {{ exceptions.raise_compiler_error(
                "lake source " ~ node.name ~ ": unexpected file pattern " ~ pattern
            ) }}
        {%- endif -%}
        {%- do found.update({node.name: {
            'schema': node.schema, 'folder': lake_folder(parts.group(1)), 'partitioned': parts.group(2) is not none,
        }}) -%}
    {%- endfor -%}
    {{ return(found) }}
{%- endmacro %}

{#- A lake folder as a SQL string body: absolute, of letters, digits and _ . / - only, no `..`. -#}
{% macro lake_folder(path) -%}
    {%- if not modules.re.match('^/[A-Za-z0-9_./-]+$', path) or '..' in path.split('/') -%}
        {{ exceptions.raise_compiler_error(
            "lake folder must be an absolute path of letters, digits and _ . / - (set SHOP_ANALYTICS_LAKE_DIR), got: " ~ path
        ) }}
    {%- endif -%}
    {{ return(path) }}
{%- endmacro %}

{#- A schema or table name of the lake: lower-case letters, digits and _, not starting with a digit. -#}
{% macro lake_identifier(name) -%}
    {%- if not modules.re.match('^[a-z_][a-z0-9_]*$', name) -%}
        {{ exceptions.raise_compiler_error("not a lake identifier ([a-z_][a-z0-9_]*): " ~ name) }}
    {%- endif -%}
    {{ return(name) }}
{%- endmacro %}
