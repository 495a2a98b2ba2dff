{#- One row per order that has at least one sale line, netted by ORDER: every
    cancellation and return that references it, whenever it came
    (docs/marts.md, "Netting rules" and "Order status"). The order's time is
    its earliest sale line's time; its customer and currency are those of that
    line. Reporting-currency sums cover the lines and reversal pieces that have
    a rate; missing_rate_lines counts the others. A table: fct_orders and the
    customer marts read it. -#}
{{ config(
    materialized='table',
    pre_hook="{{ batch_window_open(['int_order_lines__converted', 'int_order_lines__netted']) }}",
    post_hook="{{ batch_window_close() }}",
) }}
-- The batch watermark (docs/incremental.md) reads the ingest audit:
{{ ingest_audit_dependency() }}
with

order_lines as (

    select * from {{ ref('int_order_lines__netted') }}

),

allocations as (

    select * from {{ ref('int_order_line_reversals__allocated') }}

),

sale_lines as (

    select * from order_lines
    where line_type = 'sale'

),

order_level_reversals as (

    -- Pieces that reverse the order but none of its lines (an item it does not hold).
    select
        original_order_id as order_id,
        sum(reversed_quantity) filter (where line_type = 'cancellation') as cancelled_quantity,
        sum(reversed_quantity) filter (where line_type = 'return') as returned_quantity,
        sum(reversed_amount) as reversed_amount,
        coalesce(sum(reversed_amount_reporting), 0) as reversed_amount_reporting,
        count(*) filter (where is_missing_rate) as missing_rate_pieces,
        max(reversed_at) as last_reversed_at

    from allocations
    where sale_line_number is null
    group by original_order_id

),

per_order as (

    select
        order_id,
        any_value(order_key) as order_key,
        {{ first_by('user_id', 'ordered_at, line_number') }} as customer_id,
        {{ first_by('user_key', 'ordered_at, line_number') }} as customer_key,
        {{ first_by('currency', 'ordered_at, line_number') }} as currency,
        any_value(reporting_currency) as reporting_currency,
        min(ordered_at) as ordered_at,
        count(*) as line_count,
        cast(sum(quantity) as bigint) as quantity,
        cast(sum(cancelled_quantity) as bigint) as cancelled_quantity,
        cast(sum(returned_quantity) as bigint) as returned_quantity,
        cast(sum(line_amount) as decimal(18, 4)) as gross_amount,
        cast(sum(reversed_amount) as decimal(18, 4)) as reversed_amount,
        cast(coalesce(sum(line_amount_reporting), 0) as decimal(18, 4)) as gross_amount_reporting,
        cast(sum(reversed_amount_reporting) as decimal(18, 4)) as reversed_amount_reporting,
        count(*) filter (where is_missing_rate) + sum(reversal_missing_rate_pieces) as missing_rate_lines,
        bool_and(cancelled_quantity >= quantity) as is_fully_cancelled,
        bool_and(cancelled_quantity + returned_quantity >= quantity) as is_fully_reversed,
        bool_or(is_over_reversed) as has_over_reversed_line,
        max(last_reversed_at) as last_reversed_at

    from sale_lines
    group by order_id

),

orders as (

    select
        per_order.order_id,
        per_order.order_key,
        per_order.customer_id,
        per_order.customer_key,
        per_order.ordered_at,
        {{ local_date('per_order.ordered_at') }} as order_date,
        per_order.currency,
        per_order.reporting_currency,
        per_order.line_count,
        per_order.quantity,
        cast(per_order.cancelled_quantity + coalesce(extra.cancelled_quantity, 0) as bigint) as cancelled_quantity,
        cast(per_order.returned_quantity + coalesce(extra.returned_quantity, 0) as bigint) as returned_quantity,
        per_order.gross_amount,
        cast(per_order.reversed_amount + coalesce(extra.reversed_amount, 0) as decimal(18, 4)) as reversed_amount,
        per_order.gross_amount_reporting,
        cast(per_order.reversed_amount_reporting + coalesce(extra.reversed_amount_reporting, 0) as decimal(18, 4))
            as reversed_amount_reporting,
        cast(per_order.missing_rate_lines + coalesce(extra.missing_rate_pieces, 0) as bigint) as missing_rate_lines,
        per_order.is_fully_cancelled,
        per_order.is_fully_reversed,
        per_order.has_over_reversed_line
        or coalesce(extra.cancelled_quantity, 0) + coalesce(extra.returned_quantity, 0) > 0
            as is_over_reversed,
        greatest(per_order.last_reversed_at, extra.last_reversed_at) as last_reversed_at

    from per_order
    left join order_level_reversals as extra on per_order.order_id = extra.order_id

),

with_status as (

    select
        *,
        cast(quantity - cancelled_quantity - returned_quantity as bigint) as net_quantity,
        cast(gross_amount - reversed_amount as decimal(18, 4)) as net_amount,
        cast(gross_amount_reporting - reversed_amount_reporting as decimal(18, 4)) as net_amount_reporting,
        case
            when is_fully_cancelled then 'cancelled'
            when is_fully_reversed and returned_quantity > 0 then 'returned'
            when cancelled_quantity + returned_quantity > 0 then 'partially_reversed'
            else 'completed'
        end as order_status

    from orders

)

select * from with_status
