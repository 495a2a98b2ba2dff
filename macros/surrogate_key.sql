{#- A warehouse-assigned surrogate key for a natural key (docs/marts.md):
    the first 15 hex digits of md5(<natural key as text>) as a BIGINT, so it
    is stable across runs and engines (DuckDB and Spark both have md5) and
    always positive. NULL stays NULL (a guest has no customer key). Each
    dimension tests its key unique: a collision fails the build instead of
    merging two entities. -#}
{% macro surrogate_key(expr) -%}
    {{ return(adapter.dispatch('surrogate_key', 'shop_analytics')(expr)) }}
{%- endmacro %}

{% macro default__surrogate_key(expr) -%}
    cast(('0x' || left(md5(cast({{ expr }} as varchar)), 15)) as bigint)
{%- endmacro %}

{% macro spark__surrogate_key(expr) -%}
    cast(conv(substr(md5(cast({{ expr }} as string)), 1, 15), 16, 10) as bigint)
{%- endmacro %}
