{#- Use the folder's schema name as is (staging, intermediate, marts, reference)
    instead of dbt's default "<target schema>_<custom schema>", so that BI users
    and the DuckDB shell see stable names such as marts.rpt_item_popularity. -#}
{% macro generate_schema_name(custom_schema_name, node) -%}
    {%- if custom_schema_name is none -%}
        {{ target.schema }}
    {%- else -%}
        {{ custom_schema_name | trim }}
    {%- endif -%}
{%- endmacro %}
