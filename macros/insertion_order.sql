{#- Hooks of the marts stored in a given order (docs/marts.md, "Order"): DuckDB keeps the
    order of an ORDER BY in the table it writes only while preserve_insertion_order is on,
    which the profile turns off for memory; the pre-hook turns it on for the model and the
    post-hook back off. -#}
{% macro preserve_insertion_order(enabled) -%}
    {{ return(adapter.dispatch('preserve_insertion_order', 'shop_analytics')(enabled)) }}
{%- endmacro %}

{% macro default__preserve_insertion_order(enabled) -%}
    set preserve_insertion_order = {{ 'true' if enabled else 'false' }}
{%- endmacro %}

{#- Spark has no such setting, and a Spark table promises no scan order (docs/spark.md). -#}
{% macro spark__preserve_insertion_order(enabled) -%}
    {{ return('') }}
{%- endmacro %}
