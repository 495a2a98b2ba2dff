{#- Import CTEs are not used here: the lake is read three times by
    deduplicate_events (see there why not through a shared CTE). -#}
{%- set lake = source('shop', 'purchases') -%}
{%- set renamed -%}
    select
        cast(purchase_id as bigint) as purchase_id,
        cast(user_id as bigint) as user_id,
        cast(item_id as bigint) as item_id,
        cast(purchased_at as timestamp) as purchased_at,
        cast(event_date as date) as event_date,
        cast(quantity as integer) as quantity,
        cast(amount as decimal(12, 2)) as amount,
        {{ lake_batch_id('filename') }} as batch_id,
        -- Columns added by an accepted contract version pass through unchanged.
        * exclude (purchase_id, user_id, item_id, purchased_at, event_date, quantity, amount, filename)

    from {{ lake }}
{%- endset %}
with

deduplicated as (

    {{ deduplicate_events(renamed, lake, 'purchase_id') }}

)

select
    *,
    {{ is_late_arriving('event_date', 'batch_id') }} as is_late_arriving

from deduplicated
