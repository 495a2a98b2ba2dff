{#- Trending items per local day: the daily (tumbling) view count, the count
    over a sliding window of var('trend_window_days') days ending that day, the
    item's rank by each, and the change of its window rank since the previous
    day's window. Window functions only; no self-join per day.

    Row set: (item, day) where the item has at least one view inside the
    window ending that day. Days with views come from the daily counts; the
    quiet days after a view (until the next view, at most window - 1 days) are
    generated per item, so the window ranking on each day sees every item with
    a non-zero window count. A dense item x day grid would hold
    items x days rows, most of them zeros; this one holds at most
    window x (item, day) pairs with views, and far fewer for hot items that are
    viewed every day. -#}
{%- set window_days = var('trend_window_days') | int -%}
{%- if window_days < 1 -%}
    {{ exceptions.raise_compiler_error("var 'trend_window_days' must be >= 1") }}
{%- endif %}
with

item_days as (

    select * from {{ ref('int_page_views__counted_by_item_day') }}

),

data_end as (

    -- Windows are reported up to the last day with any view, not beyond.
    select max(view_date) as last_view_date from item_days

),

spans as (

    -- Days from each viewed day to the item's next viewed day, capped at the window.
    select
        item_days.item_id,
        item_days.view_date,
        item_days.view_count,
        least(
            {{ window_days }},
            coalesce(
                lead(item_days.view_date) over (partition by item_days.item_id order by item_days.view_date),
                data_end.last_view_date + 1
            ) - item_days.view_date
        ) as days_to_next

    from item_days
    cross join data_end

),

quiet_offsets as (

    select
        item_id,
        view_date,
        unnest(range(1, days_to_next)) as day_offset

    from spans
    where days_to_next > 1

),

grid as (

    select item_id, view_date, view_count from spans
    union all
    select item_id, view_date + cast(day_offset as integer), cast(0 as bigint) from quiet_offsets

),

windowed as (

    select
        item_id,
        view_date,
        view_count,
        cast(sum(view_count) over (
            partition by item_id
            order by view_date
            range between interval {{ window_days - 1 }} days preceding and current row
        ) as bigint) as window_view_count

    from grid

),

ranked as (

    -- From the day before the first reported day, so that day has a previous rank.
    -- Items without views on a day rank below all viewed ones, so the daily
    -- rank of viewed items is unaffected by the quiet rows.
    select
        item_id,
        view_date,
        view_count,
        window_view_count,
        case
            when view_count > 0
                then rank() over (partition by view_date order by view_count desc)
        end as daily_rank,
        rank() over (partition by view_date order by window_view_count desc) as window_rank

    from windowed
    where view_date >= {{ date_var('trends_since') }} - 1

),

compared as (

    select
        *,
        lag(view_date) over (partition by item_id order by view_date) as previous_view_date,
        lag(window_rank) over (partition by item_id order by view_date) as previous_row_rank

    from ranked

),

trends as (

    select
        item_id,
        view_date,
        view_count,
        window_view_count,
        daily_rank,
        window_rank,
        -- NULL when the item had no views in the previous window (it entered the chart).
        case when previous_view_date = view_date - 1 then previous_row_rank end as previous_window_rank,
        case when previous_view_date = view_date - 1 then previous_row_rank - window_rank end
            as window_rank_change

    from compared
    where view_date >= {{ date_var('trends_since') }}

)

select * from trends
