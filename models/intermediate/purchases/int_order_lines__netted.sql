{#- Every order line (sale, cancellation, return) with the netting of sale
    lines: what was cancelled and returned of each, and what remains
    (docs/marts.md, "Netting rules"). Reversal lines carry their own signed
    amounts; is_credit_note marks a reversal that reverses no known order
    (original_order_id NULL, or an order with no sale line): it reduces its
    customer's totals and the revenue of its own date, never an order. A
    table: four marts read it, and as a view each would net the lines again. -#}
{{ config(
    materialized='table',
    pre_hook="{{ batch_window_open(['int_order_lines__converted']) }}",
    post_hook="{{ batch_window_close() }}",
) }}
-- The batch watermark (docs/incremental.md) reads the ingest audit:
{{ ingest_audit_dependency() }}
with

order_lines as (

    select * from {{ ref('int_order_lines__converted') }}

),

allocations as (

    select * from {{ ref('int_order_line_reversals__allocated') }}

),

ordered_orders as (

    select distinct order_id
    from order_lines
    where line_type = 'sale'

),

reversals_per_sale_line as (

    select
        original_order_id as order_id,
        sale_line_number as line_number,
        cast(sum(reversed_quantity) filter (where line_type = 'cancellation') as bigint) as cancelled_quantity,
        cast(sum(reversed_quantity) filter (where line_type = 'return') as bigint) as returned_quantity,
        cast(sum(reversed_amount) as decimal(18, 4)) as reversed_amount,
        -- Over the pieces with a rate; the others are counted.
        cast(coalesce(sum(reversed_amount_reporting), 0) as decimal(18, 4)) as reversed_amount_reporting,
        count(*) filter (where is_missing_rate) as reversal_missing_rate_pieces,
        max(reversed_at) as last_reversed_at

    from allocations
    where sale_line_number is not null
    group by original_order_id, sale_line_number

),

netted as (

    select
        order_lines.*,
        case when order_lines.line_type = 'sale' then 1 else -1 end * order_lines.quantity as signed_quantity,
        -- DECIMAL(18, 4) on both engines (Spark widens INTEGER * DECIMAL(18, 4) to DECIMAL(29, 4)).
        cast(case when order_lines.line_type = 'sale' then 1 else -1 end * order_lines.line_amount as decimal(18, 4))
            as signed_amount,
        cast(
            case when order_lines.line_type = 'sale' then 1 else -1 end * order_lines.line_amount_reporting
            as decimal(18, 4)
        ) as signed_amount_reporting,
        order_lines.line_type <> 'sale' and ordered_orders.order_id is null as is_credit_note,
        -- Netting of sale lines; NULL on reversal lines.
        case when order_lines.line_type = 'sale' then coalesce(reversals.cancelled_quantity, 0) end
            as cancelled_quantity,
        case when order_lines.line_type = 'sale' then coalesce(reversals.returned_quantity, 0) end
            as returned_quantity,
        case when order_lines.line_type = 'sale' then coalesce(reversals.reversed_amount, 0) end
            as reversed_amount,
        case when order_lines.line_type = 'sale' then coalesce(reversals.reversed_amount_reporting, 0) end
            as reversed_amount_reporting,
        case when order_lines.line_type = 'sale' then coalesce(reversals.reversal_missing_rate_pieces, 0) end
            as reversal_missing_rate_pieces,
        reversals.last_reversed_at

    from order_lines
    left join ordered_orders
        on order_lines.original_order_id = ordered_orders.order_id
    -- The sale-only test is part of the join key: a condition on order_lines alone in
    -- the ON clause makes DuckDB run this left join as a nested loop (quadratic).
    left join reversals_per_sale_line as reversals
        on case when order_lines.line_type = 'sale' then order_lines.order_id end = reversals.order_id
        and order_lines.line_number = reversals.line_number

),

with_net as (

    select
        *,
        cast(case when line_type = 'sale' then quantity - cancelled_quantity - returned_quantity end as bigint)
            as net_quantity,
        cast(line_amount - reversed_amount as decimal(18, 4)) as net_amount,
        -- NULL when the line or one of its reversals has no rate.
        case
            when reversal_missing_rate_pieces = 0
                then cast(line_amount_reporting - reversed_amount_reporting as decimal(18, 4))
        end as net_amount_reporting,
        case
            when line_type = 'sale'
                then cancelled_quantity + returned_quantity > quantity or reversed_amount > line_amount
        end as is_over_reversed

    from netted

)

select * from with_net
