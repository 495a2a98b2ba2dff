{#- The ingest audit's quarantined_by_reason, a list of {reason, rows} structs
    (models/staging/stg_shop__ingest_audit.sql): its SQL type, and the list
    unnested one struct per row, a batch that quarantined nothing as one
    {reason: NULL, rows: 0}. -#}
{% macro quarantine_reasons_type() -%}
    {{ return(adapter.dispatch('quarantine_reasons_type', 'shop_analytics')()) }}
{%- endmacro %}

{% macro default__quarantine_reasons_type() -%}
    {{ return('struct(reason varchar, "rows" bigint)[]') }}
{%- endmacro %}

{% macro spark__quarantine_reasons_type() -%}
    {{ return('array<struct<reason: string, `rows`: bigint>>') }}
{%- endmacro %}


{% macro quarantine_reasons_unnested(column) -%}
    {{ return(adapter.dispatch('quarantine_reasons_unnested', 'shop_analytics')(column)) }}
{%- endmacro %}

{% macro default__quarantine_reasons_unnested(column) -%}
    unnest(
        case
            when coalesce(len({{ column }}), 0) = 0
                then [{'reason': cast(null as varchar), 'rows': cast(0 as bigint)}]
            else {{ column }}
        end
    )
{%- endmacro %}

{#- size() of NULL is -1 or NULL, depending on spark.sql.legacy.sizeOfNull and ANSI mode. -#}
{% macro spark__quarantine_reasons_unnested(column) -%}
    explode(
        case
            when coalesce(size({{ column }}), 0) <= 0
                then array(named_struct('reason', cast(null as string), 'rows', cast(0 as bigint)))
            else {{ column }}
        end
    )
{%- endmacro %}
