{#- The daily HLL sketches of stream_item_daily_distinct_viewers, unioned and estimated in SQL.
    DuckDB stores the project's own sketches (shop_analytics.sketches) and unions a list of them
    with the plugin's UDF; Spark stores Apache DataSketches HLL sketches and unions them with its
    native aggregate (docs/spark.md). The two formats do not mix. -#}

{#- The aggregate of a group's sketches that sketch_union_estimate reads: a list on DuckDB, the
    union sketch on Spark (a union of no rows is an empty sketch there, estimate 0). -#}
{% macro sketch_union_agg(sketch) -%}
    {{ return(adapter.dispatch('sketch_union_agg', 'shop_analytics')(sketch)) }}
{%- endmacro %}

{% macro default__sketch_union_agg(sketch) -%}
    list({{ sketch }})
{%- endmacro %}

{% macro spark__sketch_union_agg(sketch) -%}
    hll_union_agg({{ sketch }})
{%- endmacro %}

{#- The distinct-count estimate of a sketch_union_agg, as a DOUBLE on both engines (Spark's
    hll_sketch_estimate is a BIGINT, the estimate rounded to the nearest integer). -#}
{% macro sketch_union_estimate(sketches) -%}
    {{ return(adapter.dispatch('sketch_union_estimate', 'shop_analytics')(sketches)) }}
{%- endmacro %}

{% macro default__sketch_union_estimate(sketches) -%}
    hll_union_estimate({{ sketches }})
{%- endmacro %}

{% macro spark__sketch_union_estimate(sketches) -%}
    cast(hll_sketch_estimate({{ sketches }}) as double)
{%- endmacro %}
