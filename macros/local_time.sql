{#- Dates in the project's reporting time zone (var `timezone`, default UTC).
    Staging timestamps are naive UTC. timezone('UTC', ts) reads them as UTC
    whatever the session TimeZone is, and timezone(<zone>, ...) then gives the
    naive wall-clock time in <zone>. For UTC the conversion is skipped: it
    costs an ICU lookup per row and changes nothing. -#}
{% macro reporting_timezone() -%}
    {%- set zone = var('timezone', 'UTC') | string | trim -%}
    {%- if zone == '' or "'" in zone -%}
        {{ exceptions.raise_compiler_error("var 'timezone' must be an IANA time zone name, got: " ~ zone) }}
    {%- endif -%}
    {{ return(zone) }}
{%- endmacro %}

{% macro is_utc_reporting() -%}
    {{ return(reporting_timezone() | upper in ('UTC', 'ETC/UTC', 'GMT', 'Z')) }}
{%- endmacro %}

{#- The local calendar date of a naive-UTC timestamp column. -#}
{% macro local_date(timestamp_column) -%}
    {{ return(adapter.dispatch('local_date', 'shop_analytics')(timestamp_column)) }}
{%- endmacro %}

{% macro default__local_date(timestamp_column) -%}
    {%- if is_utc_reporting() -%}
        cast({{ timestamp_column }} as date)
    {%- else -%}
        cast(timezone('{{ reporting_timezone() }}', timezone('UTC', {{ timestamp_column }})) as date)
    {%- endif -%}
{%- endmacro %}

{#- Spark's timestamps are instants shown in the session time zone (UTC on the local server):
    from_utc_timestamp gives the wall-clock time in the reporting zone. -#}
{% macro spark__local_date(timestamp_column) -%}
    {%- if is_utc_reporting() -%}
        cast({{ timestamp_column }} as date)
    {%- else -%}
        to_date(from_utc_timestamp({{ timestamp_column }}, '{{ reporting_timezone() }}'))
    {%- endif -%}
{%- endmacro %}

{#- A predicate on the UTC partition column that keeps every row whose local
    date is >= `local_date_sql`. Local and UTC dates differ by at most one day
    (offsets lie within -12h..+14h), so one extra partition is read outside UTC;
    the exact local-date filter is applied on top of it. Being a plain
    comparison with a constant, it prunes hive partitions. -#}
{% macro event_date_at_or_after(event_date_column, local_date_sql) -%}
    {%- if is_utc_reporting() -%}
        {{ event_date_column }} >= {{ local_date_sql }}
    {%- else -%}
        {{ event_date_column }} >= {{ local_date_sql }} - 1
    {%- endif -%}
{%- endmacro %}

{#- A dbt var holding a date, as a SQL DATE literal; fails at compile time on a bad value. -#}
{% macro date_var(name) -%}
    {%- set value = var(name) | string | trim -%}
    {%- if not modules.re.match('^[0-9]{4}-[0-9]{2}-[0-9]{2}$', value) -%}
        {{ exceptions.raise_compiler_error("var '" ~ name ~ "' must be a date YYYY-MM-DD, got: " ~ value) }}
    {%- endif -%}
    date '{{ value }}'
{%- endmacro %}
