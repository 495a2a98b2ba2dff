{#- The value of the first row of a group in the order of `order_by` (a comma-separated
    list of ascending columns that is unique within the group), NULL kept. -#}
{% macro first_by(value, order_by) -%}
    {{ return(adapter.dispatch('first_by', 'shop_analytics')(value, order_by)) }}
{%- endmacro %}

{% macro default__first_by(value, order_by) -%}
    first({{ value }} order by {{ order_by }})
{%- endmacro %}

{#- Spark has no ordered aggregate; min_by over a struct orders by its fields in turn. -#}
{% macro spark__first_by(value, order_by) -%}
    min_by({{ value }}, struct({{ order_by }}))
{%- endmacro %}
