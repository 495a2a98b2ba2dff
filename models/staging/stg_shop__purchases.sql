{#- Raw contract v1 (deprecated): one row per purchase. stg_shop__order_lines
    migrates these rows into one-line orders; the purchase marts read order
    lines only. Import CTEs are not used here: the lake is read three times by
    deduplicate_events (see there why not through a shared CTE). -#}
{%- set lake = lake_source('purchases', {
    'purchase_id': 'bigint',
    'user_id': 'string',
    'item_id': 'string',
    'purchased_at': 'timestamp',
    'quantity': 'integer',
    'amount': 'double',
    'event_date': 'date',
    'filename': 'string',
}) -%}
{%- set renamed -%}
    select
        cast(purchase_id as bigint) as purchase_id,
        cast(user_id as string) as user_id,
        cast(item_id as string) as item_id,
        {{ surrogate_key('user_id') }} as user_key,
        {{ surrogate_key('item_id') }} as item_key,
        cast(purchased_at as timestamp) as purchased_at,
        cast(event_date as date) as event_date,
        cast(quantity as integer) as quantity,
        -- Whole cents (gate), so the cast is exact.
        cast(amount as decimal(18, 4)) as amount,
        {{ lake_batch_id('filename') }} as batch_id,
        -- Columns added by an accepted contract version pass through unchanged.
        {{ star_except(['purchase_id', 'user_id', 'item_id', 'purchased_at', 'event_date', 'quantity', 'amount', 'filename']) }}

    from {{ lake }}
{%- endset %}
with

deduplicated as (

    {{ deduplicate_events(renamed, lake, {'purchase_id': 'bigint'}) }}

)

select
    *,
    {{ is_late_arriving('event_date', 'batch_id') }} as is_late_arriving

from deduplicated
