{#- Trending items per local day: the day's views, the views of the sliding window of
    var('trend_window_days') days ending that day, the item's rank by each, and the
    change of its window rank since the day before (design: docs/marts.md, "Trends").
    Rows are the (item, day) pairs whose window holds a view: viewed days plus the quiet
    days after each, not a dense item x day grid. Window sums come from lag() over the
    viewed days only, and ranks from a (day, count) histogram, so no sort or window
    function passes over the whole row set.
    The Jinja loops unroll lag() per day of the window. A loop-free list() + list_sum()
    version gives the same rows but ran 1.2x to 1.7x slower (bench/RESULTS.md), so they stay. -#}
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
    -- window ones (date and count), in one sort by item and day.
    select
        item_days.item_id,
        item_days.view_date,
        item_days.view_count,
        least(
            {{ window_days }},
            {{ days_between(
                'coalesce(lead(item_days.view_date) over by_item, data_end.last_view_date + 1)', 'item_days.view_date'
            ) }}
        ) as days_to_next,
    {%- for k in range(1, window_days + 1) %}
        {%- set previous_viewed_day = 'lag(item_days.view_date, ' ~ k ~ ') over by_item' %}
        {{ days_between('item_days.view_date', previous_viewed_day) }} as days_since_{{ k }},
        lag(item_days.view_count, {{ k }}) over by_item as count_{{ k }}{{ "," if not loop.last }}
    {%- endfor %}

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
        {%- set window_sums = [] %}
        {%- for j in range(window_days) %}
            {%- set terms = ['view_count'] %}
            {%- for k in range(1, window_days) %}
                {%- do terms.append('case when days_since_' ~ k ~ ' <= ' ~ (window_days - 1 - j)
                                    ~ ' then count_' ~ k ~ ' else 0 end') %}
            {%- endfor %}
            {%- do window_sums.append(terms | join(' + ')) %}
        {%- endfor %}
        {{ list_of(window_sums) }} as window_counts,
        -- The window ending the day before view_date: the previous viewed days
        -- 1 to window days back.
        0
        {%- for k in range(1, window_days + 1) %}
            + case when days_since_{{ k }} <= {{ window_days }} then count_{{ k }} else 0 end
        {%- endfor %} as previous_day_window_count

    from neighbours

),

offsets as (

    select
        *,
        {{ unnest_offsets('days_to_next') }} as day_offset

    from viewed_days

),

windowed as (

    -- From the day before the first reported day: that day's ranks are the
    -- previous ranks of the first reported day.
    select
        item_id,
        view_date + cast(day_offset as integer) as view_date,
        case when day_offset = 0 then view_count else 0 end as view_count,
        cast({{ list_element('window_counts', 'day_offset + 1') }} as bigint) as window_view_count,
        -- 0 when the item had no view in the previous day's window.
        cast(
            case
                when day_offset = 0 then previous_day_window_count
                else {{ list_element('window_counts', 'day_offset') }}
            end
            as bigint
        ) as previous_window_view_count

    from offsets
    where view_date + cast(day_offset as integer) >= {{ date_var('trends_since') }} - 1

),

window_count_ranks as (

    {# Every row has a window count > 0, so an item absent from a day's
       window finds no rank there. #}
    {{ rank_by_count_per_day('select view_date, window_view_count from windowed',
                             'window_view_count', 'window_rank') }}

),

daily_count_ranks as (

    {# Viewed days only: quiet days (0 views) rank below every viewed item,
       so they find no daily rank. #}
    {{ rank_by_count_per_day('select view_date, view_count from item_days where view_date >= '
                             ~ date_var('trends_since'), 'view_count', 'daily_rank') }}

),

trends as (

    select
        windowed.item_id,
        windowed.view_date,
        windowed.view_count,
        windowed.window_view_count,
        daily_count_ranks.daily_rank,
        window_count_ranks.window_rank,
        -- NULL when the item had no views in the previous window (it entered the chart).
        previous_ranks.window_rank as previous_window_rank,
        previous_ranks.window_rank - window_count_ranks.window_rank as window_rank_change

    from windowed
    inner join window_count_ranks
        on windowed.view_date = window_count_ranks.view_date
        and windowed.window_view_count = window_count_ranks.window_view_count
    left join window_count_ranks as previous_ranks
        on windowed.view_date - 1 = previous_ranks.view_date
        and windowed.previous_window_view_count = previous_ranks.window_view_count
    left join daily_count_ranks
        on windowed.view_date = daily_count_ranks.view_date
        and windowed.view_count = daily_count_ranks.view_count
    where windowed.view_date >= {{ date_var('trends_since') }}

)

select * from trends
