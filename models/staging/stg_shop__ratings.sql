{#- Import CTEs are not used here: the lake is read three times by
    deduplicate_events (see there why not through a shared CTE).
    user_id and item_id are text natural keys, as in stg_shop__page_views;
    user_key and item_key are their surrogate keys. -#}
{%- set lake = lake_source('ratings', {
    'rating_id': 'bigint',
    'user_id': 'string',
    'item_id': 'string',
    'rated_at': 'timestamp',
    'rating': 'smallint',
    'event_date': 'date',
    'filename': 'string',
}) -%}
{%- set renamed -%}
    select
        cast(rating_id as bigint) as rating_id,
        cast(user_id as string) as user_id,
        cast(item_id as string) as item_id,
        {{ surrogate_key('user_id') }} as user_key,
        {{ surrogate_key('item_id') }} as item_key,
        cast(rated_at as timestamp) as rated_at,
        cast(event_date as date) as event_date,
        cast(rating as smallint) as rating,
        {{ lake_batch_id('filename') }} as batch_id,
        -- Columns added by an accepted contract version pass through unchanged.
        {{ star_except(['rating_id', 'user_id', 'item_id', 'rated_at', 'event_date', 'rating', 'filename']) }}

    from {{ lake }}
{%- endset %}
with

deduplicated as (

    {{ deduplicate_events(renamed, lake, {'rating_id': 'bigint'}) }}

)

select
    *,
    {{ is_late_arriving('event_date', 'batch_id') }} as is_late_arriving

from deduplicated
