{#- Rolls the daily per-item HLL sketches up to 1-, 7- and 30-day windows ending on
    as_of_date (var streaming_as_of_date, default: the latest day with views).
    On DuckDB the union is hll_union_estimate, a UDF of the shop_analytics dbt plugin, over a
    list of sketches; on Spark hll_union_agg and hll_sketch_estimate (macros/sketches.sql).
    Either runs at build time only, so the table itself is plain columns any client can read. -#}

with

daily as (

    select * from {{ ref('stream_item_daily_distinct_viewers') }}

),

as_of as (

    -- One row: the configured date, or the latest day with views.
    select
        coalesce(
            cast(nullif('{{ var("streaming_as_of_date", "") }}', '') as date),
            max(view_date)
        ) as as_of_date
    from daily

),

last_30_days as (

    select
        daily.item_id,
        as_of.as_of_date,
        daily.view_date,
        daily.viewer_sketch
    from daily
    cross join as_of
    where daily.view_date > as_of.as_of_date - 30
        and daily.view_date <= as_of.as_of_date

),

sketch_lists as (

    select
        item_id,
        as_of_date,
        {{ sketch_union_agg('viewer_sketch') }} filter (where view_date = as_of_date) as sketches_1d,
        {{ sketch_union_agg('viewer_sketch') }} filter (where view_date > as_of_date - 7) as sketches_7d,
        {{ sketch_union_agg('viewer_sketch') }} as sketches_30d,
        count(*) as active_days_30d
    from last_30_days
    group by item_id, as_of_date

)

select
    item_id,
    as_of_date,
    coalesce({{ sketch_union_estimate('sketches_1d') }}, 0) as distinct_viewers_1d,
    coalesce({{ sketch_union_estimate('sketches_7d') }}, 0) as distinct_viewers_7d,
    {{ sketch_union_estimate('sketches_30d') }} as distinct_viewers_30d,
    cast(active_days_30d as integer) as active_days_30d

from sketch_lists
