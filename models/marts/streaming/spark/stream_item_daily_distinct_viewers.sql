{#- Spark's stream_item_daily_distinct_viewers: the DuckDB build is the dbt Python model of the
    same name in models/marts/streaming/ (dbt-spark runs Python models only on Databricks), and
    dbt_project.yml enables exactly one of the two per engine. One Apache DataSketches HLL sketch
    (Spark's hll_sketch_agg, lg_k = var streaming_hll_precision) of the viewers per (item, day):
    the same rows and columns, but viewer_sketch is Spark's HLL binary, which neither the
    project's sketches nor its DuckDB UDFs read (docs/spark.md). Built in full on every run. -#}

{#- The var the Python model reads through its config (_streaming__models.yml). -#}
{%- set lg_k = var('streaming_hll_precision') | int %}

with

page_views as (

    select * from {{ ref('stg_shop__page_views') }}

),

signed_in_views as (

    -- Anonymous views have no viewer to count, and a view without an item no (item, day):
    -- the Python model skips both.
    select
        item_id,
        event_date,
        user_id
    from page_views
    where user_id is not null
        and item_id is not null

),

daily_sketches as (

    select
        item_id,
        event_date as view_date,
        hll_sketch_agg(user_id, {{ lg_k }}) as viewer_sketch
    from signed_in_views
    group by item_id, event_date

)

select
    item_id,
    view_date,
    -- DuckDB stores a DOUBLE; Spark's estimate is the sketch's estimate rounded to a BIGINT.
    cast(hll_sketch_estimate(viewer_sketch) as double) as distinct_viewers_estimate,
    viewer_sketch

from daily_sketches
