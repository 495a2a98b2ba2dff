{#- Import CTEs are not used here: the lake is read three times by
    deduplicate_events (see there why not through a shared CTE).
    user_id and item_id are the text natural keys of contract v2, like
    stg_shop__users and stg_shop__items; user_key and item_key are their
    surrogate keys, for engines that want an integer. -#}
{%- set lake = lake_source('page_views', {
    'page_view_id': 'bigint',
    'user_id': 'string',
    'item_id': 'string',
    'viewed_at': 'timestamp',
    'event_date': 'date',
    'filename': 'string',
}) -%}
{%- set renamed -%}
    select
        cast(page_view_id as bigint) as page_view_id,
        cast(user_id as string) as user_id,
        cast(item_id as string) as item_id,
        {{ surrogate_key('user_id') }} as user_key,
        {{ surrogate_key('item_id') }} as item_key,
        cast(viewed_at as timestamp) as viewed_at,
        cast(event_date as date) as event_date,
        {{ lake_batch_id('filename') }} as batch_id,
        -- Columns added by an accepted contract version pass through unchanged.
        {{ star_except(['page_view_id', 'user_id', 'item_id', 'viewed_at', 'event_date', 'filename']) }}

    from {{ lake }}
{%- endset %}
with

deduplicated as (

    {{ deduplicate_events(renamed, lake, {'page_view_id': 'bigint'}) }}

)

select
    *,
    user_id is not null as is_authenticated,
    {{ is_late_arriving('event_date', 'batch_id') }} as is_late_arriving

from deduplicated
