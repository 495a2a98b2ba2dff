{#- Order lines of raw contract v2, and every v1 purchase migrated into a
    one-line order (docs/marts.md): order_id = 'purchase:' || purchase_id, line
    1, a sale in var('legacy_purchase_currency'), line_amount = amount. The
    prefix is the migrated orders' own id space: the gate refuses a v2 order id
    of that form (docs/raw_data_contract.md), so v2 order 123 and purchase 123
    stay two orders. The union is the only logic; staging joins nothing. Import
    CTEs are not used for the v2 lake: it is read three times by
    deduplicate_events (see there). -#}
{%- set lake = lake_source('order_lines', {
    'order_id': 'string',
    'line_number': 'integer',
    'ordered_at': 'timestamp',
    'user_id': 'string',
    'item_id': 'string',
    'quantity': 'integer',
    'unit_price': 'double',
    'line_amount': 'double',
    'currency': 'string',
    'line_type': 'string',
    'original_order_id': 'string',
    'original_line_number': 'integer',
    'event_date': 'date',
    'filename': 'string',
}) -%}
{%- set renamed -%}
    select
        cast(order_id as string) as order_id,
        cast(line_number as integer) as line_number,
        cast(ordered_at as timestamp) as ordered_at,
        cast(event_date as date) as event_date,
        cast(user_id as string) as user_id,
        cast(item_id as string) as item_id,
        cast(quantity as integer) as quantity,
        -- Whole minor units of the line's currency (gate), up to 1e13: exact (see money_decimal).
        {{ money_decimal('unit_price') }} as unit_price,
        {{ money_decimal('line_amount') }} as line_amount,
        cast(currency as string) as currency,
        cast(line_type as string) as line_type,
        cast(original_order_id as string) as original_order_id,
        cast(original_line_number as integer) as original_line_number,
        'order_lines' as source_table,
        {{ lake_batch_id('filename') }} as batch_id

    from {{ lake }}
{%- endset %}
with

order_lines as (

    {{ deduplicate_events(renamed, lake, {'order_id': 'string', 'line_number': 'integer'}) }}

),

legacy_purchases as (

    select * from {{ ref('stg_shop__purchases') }}

),

migrated_purchases as (

    select
        'purchase:' || cast(purchase_id as string) as order_id,
        1 as line_number,
        purchased_at as ordered_at,
        event_date,
        user_id,
        item_id,
        quantity,
        -- Informative only: line_amount is authoritative.
        cast(amount / quantity as decimal(18, 4)) as unit_price,
        amount as line_amount,
        {{ currency_var('legacy_purchase_currency', 'USD') }} as currency,
        'sale' as line_type,
        cast(null as string) as original_order_id,
        cast(null as integer) as original_line_number,
        'purchases' as source_table,
        batch_id

    from legacy_purchases

),

unioned as (

    select * from order_lines
    union all
    select * from migrated_purchases

)

select
    *,
    {{ surrogate_key('order_id') }} as order_key,
    {{ surrogate_key('user_id') }} as user_key,
    {{ surrogate_key('item_id') }} as item_key,
    line_type <> 'sale' as is_reversal,
    {{ is_late_arriving('event_date', 'batch_id') }} as is_late_arriving

from unioned
