{#- Dialect points of the day-window models (rpt_item_trends): whole days between two dates,
    a list literal and its 1-based element, and one row per offset 0..n-1. DuckDB's `date - date`
    is a number of days; Spark's is an interval, and Spark's `arr[i]` counts from 0. -#}
{% macro days_between(later, earlier) -%}
    {{ return(adapter.dispatch('days_between', 'shop_analytics')(later, earlier)) }}
{%- endmacro %}

{% macro default__days_between(later, earlier) -%}
    ({{ later }} - {{ earlier }})
{%- endmacro %}

{% macro spark__days_between(later, earlier) -%}
    datediff({{ later }}, {{ earlier }})
{%- endmacro %}

{% macro list_of(items) -%}
    {{ return(adapter.dispatch('list_of', 'shop_analytics')(items)) }}
{%- endmacro %}

{% macro default__list_of(items) -%}
    [{{ items | join(', ') }}]
{%- endmacro %}

{% macro spark__list_of(items) -%}
    array({{ items | join(', ') }})
{%- endmacro %}

{#- The `position`-th element (from 1) of a list. -#}
{% macro list_element(list_column, position) -%}
    {{ return(adapter.dispatch('list_element', 'shop_analytics')(list_column, position)) }}
{%- endmacro %}

{% macro default__list_element(list_column, position) -%}
    {{ list_column }}[{{ position }}]
{%- endmacro %}

{% macro spark__list_element(list_column, position) -%}
    element_at({{ list_column }}, {{ position }})
{%- endmacro %}

{#- One output row per offset 0 .. count - 1 (count >= 1), as a select-list item. -#}
{% macro unnest_offsets(count) -%}
    {{ return(adapter.dispatch('unnest_offsets', 'shop_analytics')(count)) }}
{%- endmacro %}

{% macro default__unnest_offsets(count) -%}
    unnest(range({{ count }}))
{%- endmacro %}

{% macro spark__unnest_offsets(count) -%}
    explode(sequence(0, {{ count }} - 1))
{%- endmacro %}
