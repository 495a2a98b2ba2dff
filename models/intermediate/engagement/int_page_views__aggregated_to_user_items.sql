{#- One row per (audience user, item): the shared first pass of fct_user_item_views
    and rpt_item_popularity. A table, so the audience views (a scan of the lake
    since var('popularity_since') and the join to users) are aggregated once for
    both marts; and sorting this table into the fact's order is faster than
    sorting the aggregate inside the same query (at scale 100: 13 s + 12 s for
    table and fact against 40 s for the fact alone). -#}
{{ config(materialized='table') }}
with

audience_views as (

    select * from {{ ref('int_page_views__filtered_to_audience') }}

),

user_items as (

    -- Staging keeps one row per page_view_id (tested unique), so count(*) is
    -- the number of distinct page views without a costly count(distinct).
    select
        user_id,
        item_id,
        count(*) as view_count,
        min(viewed_at) as first_viewed_at,
        max(viewed_at) as last_viewed_at

    from audience_views
    group by user_id, item_id

)

select * from user_items
