{#- Trending items per local day: the day's views, the views of the sliding window of
    var('trend_window_days') days ending that day, the item's rank by each, and the
    change of its window rank since the day before (design: docs/marts.md, "Trends").
    Rows are the (item, day) pairs whose window holds a view: viewed days plus the quiet
    days after each, not a dense item x day grid. Window sums come from lag() over the
    viewed days only, and ranks from a (day, count) histogram, so no sort or window
    function passes over the whole row set.
    The Jinja loops unroll lag() per day of the window (a loop-free list version was
    slower: bench/RESULTS.md).
    Incremental by changed days (docs/incremental.md, "Trends"): a run rewrites every
    day whose window, or the window of the day before, holds a day of its new page views
    (late ones included), and the new days after the stored last day, each recomputed
    whole from the stored daily counts of the days its windows read. Page views are only
    ever added, so a day's rows never vanish and delete+insert by view_date replaces
    them all. -#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='delete+insert',
    unique_key='view_date',
    on_schema_change='fail',
    pre_hook="{{ batch_window_open(['int_page_views__counted_by_item_day'], model_vars=['trends_since', 'trend_window_days']) }}",
    post_hook="{{ batch_window_close() }}",
) }}
-- Read by new_batches and the hooks:
{{ ingest_audit_dependency() }}
{%- set window_days = var('trend_window_days') | int -%}
{%- if window_days < 1 -%}
    {{ exceptions.raise_compiler_error("var 'trend_window_days' must be >= 1") }}
{%- endif %}
{%- set incremental = is_incremental() %}
{%- set since = date_var('trends_since') %}
with

all_item_days as (

    select * from {{ ref('int_page_views__counted_by_item_day') }}

),

page_views as (

    select * from {{ ref('stg_shop__page_views') }}

),

window_batches as (

    {{ new_batches(['page_views']) }}

),

changed_days as (

    -- Incremental runs: the local days of the window's page views that the daily
    -- counts hold (late ones of any age included).
    select distinct {{ local_date('viewed_at') }} as view_date

    from page_views
    where
        {{ incremental }}
        and {{ event_date_at_or_after('event_date', since ~ ' - ' ~ window_days) }}
        and batch_id in (select window_batches.batch_id from window_batches)
        and {{ local_date('viewed_at') }} >= {{ since }} - {{ window_days }}

),

stored_end as (

    -- The stored rows end on the last day with a view (none before trends_since; no
    -- stored rows on a full build).
    select coalesce(max(view_date), {{ since }} - 1) as last_view_date
    from {{ this if incremental else 'all_item_days' }}
    where {{ incremental }}

),

incremental_end as (

    -- The last day with a view after this run: the stored one or a later changed day.
    select
        greatest(
            last_view_date,
            coalesce((select max(changed_days.view_date) from changed_days), {{ since }} - 1)
        ) as last_view_date

    from stored_end

),

window_offsets as (

    -- 0 to window: the days after a changed day whose windows it enters.
    select {{ unnest_offsets(window_days + 1) }} as day_offset

),

new_day_offsets as (

    -- Incremental runs: the days after the stored last day, up to the new one.
    {%- set new_days = days_between('incremental_end.last_view_date', 'stored_end.last_view_date') %}
    select {{ unnest_offsets(new_days) }} as day_offset

    from stored_end
    cross join incremental_end
    where incremental_end.last_view_date > stored_end.last_view_date

),

affected_days as (

    -- A changed day's count enters the windows ending on it and on the next
    -- window - 1 days, and the previous-day window of the day after those; the
    -- days after the stored last day gain quiet-day rows.
    select distinct candidates.view_date

    from (
        select changed_days.view_date + cast(window_offsets.day_offset as integer) as view_date
        from changed_days
        cross join window_offsets
        union all
        select stored_end.last_view_date + 1 + cast(new_day_offsets.day_offset as integer) as view_date
        from stored_end
        cross join new_day_offsets
    ) as candidates
    cross join incremental_end
    where
        {{ incremental }}
        and candidates.view_date >= {{ since }}
        and candidates.view_date <= incremental_end.last_view_date

),

input_days as (

    -- Every day a window ending on an affected day, or on the day before, reads.
    select distinct affected_days.view_date - cast(window_offsets.day_offset as integer) as view_date

    from affected_days
    cross join window_offsets

),

item_days as (

    select * from all_item_days
    where not {{ incremental }} or view_date in (select input_days.view_date from input_days)

),

data_end as (

    -- Windows are reported up to the last day with any view, not beyond. An incremental
    -- run reads some days only: their last day with a view is the run's.
    {%- if incremental %}
        select last_view_date from incremental_end
    {%- else %}
        select max(view_date) as last_view_date from item_days
    {%- endif %}

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
    where view_date + cast(day_offset as integer) >= {{ since }} - 1

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
                             ~ since, 'view_count', 'daily_rank') }}

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
    where
        windowed.view_date >= {{ since }}
        {%- if incremental %}
            and windowed.view_date in (select affected_days.view_date from affected_days)
        {%- endif %}

)

select * from trends
