{#- The file pattern of a lake source, read back from its external_location
    `read_parquet('<pattern>', ...)` (models/staging/_shop__sources.yml): the text between
    the quotes as written there, a DuckDB glob whose folder part has its wildcard characters
    escaped ([[] [*] [?]) and its quotes doubled, so it stands between quotes in SQL again.

    - lake_file_glob(location): from a location dbt-duckdb has formatted (a source relation);
    - lake_source_glob(node): from a source node's unformatted meta, formatted here as
      dbt-duckdb's newstyle formatter does it ({name} -> the table, {{ and }} -> one brace). -#}
{% macro lake_file_glob(location) -%}
    {%- set match = modules.re.search("read_parquet\\(\\s*'((?:[^']|'')*)'", location or '') -%}
    {%- if not match -%}
        {{ exceptions.raise_compiler_error("cannot find the read_parquet file pattern in: " ~ location) }}
    {%- endif -%}
    {{ return(match.group(1)) }}
{%- endmacro %}

{% macro lake_source_glob(node) -%}
    {%- set location = node.meta.get('external_location') or node.config.meta.get('external_location') -%}
    {%- set pattern = lake_file_glob(location) -%}
    {#- Doubled braces stand for one; set aside first so `{name}` is the only field replaced. -#}
    {{ return(pattern | replace('{{', '\x00') | replace('}}', '\x01') | replace('{name}', node.name)
        | replace('\x00', '{') | replace('\x01', '}')) }}
{%- endmacro %}
