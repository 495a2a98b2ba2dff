{#- Trending items per local day: the daily (tumbling) view count, the count
    over a sliding window of var('trend_window_days') days ending that day, the
    item's rank by each, and the change of its window rank since the previous
    day's window. Window functions only (lead/lag/rank); no self-join per day.

    Row set: (item, day) where the item has at least one view inside the
    window ending that day. Days with views come from the daily counts; the
    quiet days after a view (until the next view, at most window - 1 days) are
    generated per item, so the window ranking on each day sees every item with
    a non-zero window count. A dense item x day grid would hold
    items x days rows, most of them zeros; this one holds at most
    window x (item, day) pairs with views, and far fewer for hot items that are
    viewed every day.

    Cost: the window sums come from one pass over the viewed days only (lag of
    the previous window - 1 viewed days); the quiet days take the sum of the
    viewed day before them. Only the rank by day and the rank change (lag per
    item) pass over the full row set. A RANGE frame per row, on all rows, was
    the slowest step of this model at 100M page views. -#}
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

neighbours as (

    -- Per viewed day: the next viewed day of the item and the previous
    -- window - 1 ones (date and count), in one sort by item and day.
    select
        item_days.item_id,
        item_days.view_date,
        item_days.view_count,
        least(
            {{ window_days }},
            coalesce(lead(item_days.view_date) over by_item, data_end.last_view_date + 1) - item_days.view_date
        ) as days_to_next,
        {%- for k in range(1, window_days) %}
        item_days.view_date - lag(item_days.view_date, {{ k }}) over by_item as days_since_{{ k }},
        lag(item_days.view_count, {{ k }}) over by_item as count_{{ k }},
        {%- endfor %}
        -- Quiet rows (0 views) rank below every viewed item, so ranking the
        -- viewed days alone gives the same daily rank on fewer rows.
        rank() over (partition by item_days.view_date order by item_days.view_count desc) as daily_rank

    from item_days
    cross join data_end
    window by_item as (partition by item_days.item_id order by item_days.view_date)

),

viewed_days as (

    -- window_counts[j + 1]: views in the window ending j days after view_date,
    -- for a day before the item's next viewed day. No view falls in between,
    -- so it is this day's count plus those of the previous viewed days at most
    -- window - 1 - j days back.
    select
        item_id,
        view_date,
        view_count,
        days_to_next,
        daily_rank,
        [
        {%- for j in range(window_days) %}
            view_count
            {%- for k in range(1, window_days) %}
            + case when days_since_{{ k }} <= {{ window_days - 1 - j }} then count_{{ k }} else 0 end
            {%- endfor %}{{ "," if not loop.last }}
        {%- endfor %}
        ] as window_counts

    from neighbours

),

offsets as (

    select
        *,
        unnest(range(days_to_next)) as day_offset

    from viewed_days

),

windowed as (

    -- From the day before the first reported day, so that day has a previous rank.
    select
        item_id,
        view_date + cast(day_offset as integer) as view_date,
        case when day_offset = 0 then view_count else 0 end as view_count,
        cast(window_counts[day_offset + 1] as bigint) as window_view_count,
        case when day_offset = 0 then daily_rank end as daily_rank

    from offsets
    where view_date + cast(day_offset as integer) >= {{ date_var('trends_since') }} - 1

),

ranked as (

    select
        *,
        rank() over (partition by view_date order by window_view_count desc) as window_rank

    from windowed

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
