{#- One row per (authenticated user, item) of every country: the user's page views of the
    item on or after var('popularity_since') (local dates), accumulated batch by batch
    (docs/incremental.md, "Engagement"). Every column is mergeable: counts add, first and
    last views are min and max, and staging holds each page_view_id once (ingest
    quarantines a replayed event id, `duplicate_in_lake`). So a run adds the window's
    (user, item) counts to the stored rows of those keys and rewrites them
    (delete+insert); a batch is added once because its watermark commits with the rows.
    The audience (the users' country) is applied downstream, in
    int_page_views__aggregated_to_user_items: a user record that arrives or changes
    later moves a user in or out of the audience without touching this table.
    On Spark it is built in full as a table, with no batch tracking (docs/spark.md). -#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='delete+insert',
    unique_key=['user_id', 'item_id'],
    on_schema_change='fail',
    pre_hook="{{ batch_window_open() }}",
    post_hook="{{ batch_window_close() }}",
) }}
-- Read by new_batches and the hooks:
{{ ingest_audit_dependency() }}
{%- set incremental = is_incremental() %}
{%- set since = date_var('popularity_since') %}
with

page_views as (

    select * from {{ ref('stg_shop__page_views') }}

),

window_batches as (

    {{ new_batches(['page_views']) }}

),

counted_views as (

    select
        user_id,
        item_id,
        viewed_at

    from page_views
    -- Constant bound on the partition column: prunes hive partitions.
    where
        {{ event_date_at_or_after('event_date', since) }}
        and {{ local_date('viewed_at') }} >= {{ since }}
        -- Anonymous views never count; a view without an item reaches no mart (they
        -- join items), and a NULL key would never match its stored row in delete+insert.
        and user_id is not null
        and item_id is not null
        -- An incremental run reads the window's batches only (late events of any date
        -- are in them); a full build reads every batch.
        and (not {{ incremental }} or batch_id in (select window_batches.batch_id from window_batches))

),

new_user_items as (

    -- Staging keeps one row per page_view_id (tested unique), so count(*) is the
    -- number of distinct page views without a costly count(distinct).
    select
        user_id,
        item_id,
        count(*) as view_count,
        min(viewed_at) as first_viewed_at,
        max(viewed_at) as last_viewed_at

    from counted_views
    group by user_id, item_id

),

stored as (

    -- The stored rows, merged below with the window's; none on a full build (the
    -- table may not exist yet).
    select * from {{ this if incremental else 'new_user_items' }}
    where {{ incremental }}

),

user_items as (

    -- The additive merge: counts add, first and last are min and max.
    select
        new_user_items.user_id,
        new_user_items.item_id,
        new_user_items.view_count + coalesce(stored.view_count, 0) as view_count,
        least(
            new_user_items.first_viewed_at, coalesce(stored.first_viewed_at, new_user_items.first_viewed_at)
        ) as first_viewed_at,
        greatest(
            new_user_items.last_viewed_at, coalesce(stored.last_viewed_at, new_user_items.last_viewed_at)
        ) as last_viewed_at

    from new_user_items
    left join stored
        on new_user_items.user_id = stored.user_id
        and new_user_items.item_id = stored.item_id

)

select
    user_id,
    item_id,
    cast(view_count as bigint) as view_count,
    first_viewed_at,
    last_viewed_at

from user_items
