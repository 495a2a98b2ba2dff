{#- Daily (tumbling-window) view counts per item on local dates, all views
    (anonymous included), from var('trend_window_days') days before
    var('trends_since'): rpt_item_trends ranks the windows from the day before
    its first reported day, and those windows must be full too.
    Incremental, additive (docs/incremental.md, "Trends"): a run counts only the
    page views of its window's batches (late ones of any age included) per (item,
    day) and adds them to the stored counts of those keys (delete+insert), as
    int_page_views__accumulated_to_user_items does per (user, item); staging holds
    each page_view_id once, so counts add. On Spark it is built in full as a table
    (docs/spark.md). -#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='delete+insert',
    unique_key=['item_id', 'view_date'],
    on_schema_change='fail',
    pre_hook="{{ batch_window_open(model_vars=['trends_since', 'trend_window_days']) }}",
    post_hook="{{ batch_window_close() }}",
) }}
-- Read by new_batches and the hooks:
{{ ingest_audit_dependency() }}
{%- set incremental = is_incremental() %}
{%- set first_day = date_var('trends_since') ~ ' - ' ~ var('trend_window_days') %}
with

page_views as (

    select * from {{ ref('stg_shop__page_views') }}

),

window_batches as (

    {{ new_batches(['page_views']) }}

),

windowed as (

    select
        item_id,
        {{ local_date('viewed_at') }} as view_date

    from page_views
    where
        {{ event_date_at_or_after('event_date', first_day) }}
        -- The gate admits no view without an item; a NULL key would never match its
        -- stored row in delete+insert.
        and item_id is not null
        -- An incremental run reads the window's batches only; a full build every batch.
        and (not {{ incremental }} or batch_id in (select window_batches.batch_id from window_batches))

),

new_item_days as (

    select
        item_id,
        view_date,
        count(*) as view_count

    from windowed
    where view_date >= {{ first_day }}
    group by item_id, view_date

),

stored as (

    -- The stored counts, merged below with the window's; none on a full build (the
    -- table may not exist yet).
    select * from {{ this if incremental else 'new_item_days' }}
    where {{ incremental }}

),

item_days as (

    select
        new_item_days.item_id,
        new_item_days.view_date,
        new_item_days.view_count + coalesce(stored.view_count, 0) as view_count

    from new_item_days
    left join stored
        on new_item_days.item_id = stored.item_id
        and new_item_days.view_date = stored.view_date

)

select
    item_id,
    view_date,
    cast(view_count as bigint) as view_count

from item_days
