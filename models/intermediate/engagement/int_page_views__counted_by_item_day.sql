{#- Daily (tumbling-window) view counts per item on local dates, all views
    (anonymous included), from var('trend_window_days') days before
    var('trends_since'): rpt_item_trends ranks the windows from the day before
    its first reported day, and those windows must be full too. -#}
with

page_views as (

    select * from {{ ref('stg_shop__page_views') }}

),

windowed as (

    select
        item_id,
        {{ local_date('viewed_at') }} as view_date

    from page_views
    where {{ event_date_at_or_after('event_date',
             date_var('trends_since') ~ ' - ' ~ var('trend_window_days')) }}

),

item_days as (

    select
        item_id,
        view_date,
        count(*) as view_count

    from windowed
    where view_date >= {{ date_var('trends_since') }} - {{ var('trend_window_days') }}
    group by item_id, view_date

)

select * from item_days
