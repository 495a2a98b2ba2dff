{#- Which sale line each referenced cancellation or return reverses, and by
    how much (docs/marts.md, "Netting rules"). One row per (reversal line,
    piece); pieces of one reversal add up exactly to its quantity and amount.
    - A reversal naming original_line_number of a sale line of its original
      order reverses that line by its whole quantity.
    - Otherwise it is matched to the original order's sale lines of the same
      item_id in line_number order, up to what explicit reversals left of
      each, reversals taken in (ordered_at, order_id, line_number) order.
    - Quantity beyond every matching line's remainder stays on the last
      matching line (an over-reversal, flagged downstream, never clamped); with
      no sale line of that item the piece has no sale line (order-level).
    The amount of a reversal split over several pieces is divided in
    proportion to quantity on a 0.0001 grid, so the pieces add up exactly.
    Unreferenced reversals (credit notes) are not allocated here. -#}
{%- set piece_start = '(positioned.position_end - positioned.piece_quantity)' %}
with

order_lines as (

    select * from {{ ref('int_order_lines__converted') }}

),

sale_lines as (

    select
        order_id,
        line_number,
        item_id,
        quantity
    from order_lines
    where line_type = 'sale'

),

reversals as (

    select
        order_id as reversal_order_id,
        line_number as reversal_line_number,
        original_order_id,
        original_line_number,
        item_id,
        line_type,
        quantity,
        line_amount,
        line_amount_reporting,
        ordered_at

    from order_lines
    where line_type <> 'sale' and original_order_id is not null

),

line_referenced as (

    select
        reversals.*,
        sale_lines.line_number as sale_line_number

    from reversals
    left join sale_lines
        on reversals.original_order_id = sale_lines.order_id
        and reversals.original_line_number = sale_lines.line_number

),

explicit_pieces as (

    select
        reversal_order_id,
        reversal_line_number,
        original_order_id,
        sale_line_number,
        quantity as piece_quantity,
        1 as piece_rank

    from line_referenced
    where sale_line_number is not null

),

explicitly_reversed as (

    select
        original_order_id,
        sale_line_number,
        sum(piece_quantity) as reversed_quantity
    from explicit_pieces
    group by original_order_id, sale_line_number

),

capacities as (

    -- What explicit reversals left of each sale line, laid end to end per (order, item).
    select
        sale_lines.order_id,
        sale_lines.item_id,
        sale_lines.line_number,
        sum(greatest(sale_lines.quantity - coalesce(explicitly_reversed.reversed_quantity, 0), 0)) over (
            partition by sale_lines.order_id, sale_lines.item_id
            order by sale_lines.line_number
            rows between unbounded preceding and current row
        ) as capacity_end,
        greatest(sale_lines.quantity - coalesce(explicitly_reversed.reversed_quantity, 0), 0) as capacity,
        row_number() over (
            partition by sale_lines.order_id, sale_lines.item_id
            order by sale_lines.line_number desc
        ) = 1 as is_last_item_line

    from sale_lines
    left join explicitly_reversed
        on sale_lines.order_id = explicitly_reversed.original_order_id
        and sale_lines.line_number = explicitly_reversed.sale_line_number

),

demands as (

    -- Item-matched reversals laid end to end per (original order, item).
    select
        *,
        sum(quantity) over (
            partition by original_order_id, item_id
            order by ordered_at, reversal_order_id, reversal_line_number
            rows between unbounded preceding and current row
        ) as demand_end

    from line_referenced
    where sale_line_number is null

),

matched_pieces as (

    -- The overlap of each reversal's demand interval with each line's capacity interval.
    select
        demands.reversal_order_id,
        demands.reversal_line_number,
        demands.original_order_id,
        capacities.line_number as sale_line_number,
        least(capacities.capacity_end, demands.demand_end)
        - greatest(capacities.capacity_end - capacities.capacity, demands.demand_end - demands.quantity)
            as piece_quantity,
        2 as piece_rank

    from demands
    inner join capacities
        on demands.original_order_id = capacities.order_id
        and demands.item_id = capacities.item_id
        and capacities.capacity_end - capacities.capacity < demands.demand_end
        and demands.demand_end - demands.quantity < capacities.capacity_end

),

item_totals as (

    select
        order_id,
        item_id,
        max(capacity_end) as total_capacity
    from capacities
    group by order_id, item_id

),

excess_pieces as (

    -- Demand beyond the item's total remainder: on the last line of that item, else order-level.
    select
        demands.reversal_order_id,
        demands.reversal_line_number,
        demands.original_order_id,
        capacities.line_number as sale_line_number,
        demands.demand_end
        - greatest(demands.demand_end - demands.quantity, coalesce(item_totals.total_capacity, 0))
            as piece_quantity,
        3 as piece_rank

    from demands
    left join item_totals
        on demands.original_order_id = item_totals.order_id
        and demands.item_id = item_totals.item_id
    left join capacities
        on demands.original_order_id = capacities.order_id
        and demands.item_id = capacities.item_id
        and capacities.is_last_item_line
    where demands.demand_end > coalesce(item_totals.total_capacity, 0)

),

pieces as (

    select * from explicit_pieces
    union all
    select * from matched_pieces
    where piece_quantity > 0
    union all
    select * from excess_pieces

),

positioned as (

    select
        *,
        sum(piece_quantity) over (
            partition by reversal_order_id, reversal_line_number
            order by piece_rank, sale_line_number
            rows between unbounded preceding and current row
        ) as position_end

    from pieces

),

allocated as (

    -- floor(amount * position / quantity) on a 0.0001 grid telescopes to the exact amount.
    select
        positioned.reversal_order_id,
        positioned.reversal_line_number,
        reversals.line_type,
        reversals.ordered_at as reversed_at,
        positioned.original_order_id,
        positioned.sale_line_number,
        cast(positioned.piece_quantity as integer) as reversed_quantity,
        {{ allocated_amount(
            'reversals.line_amount', piece_start, 'positioned.position_end', 'reversals.quantity'
        ) }} as reversed_amount,
        {{ allocated_amount(
            'reversals.line_amount_reporting', piece_start, 'positioned.position_end', 'reversals.quantity'
        ) }} as reversed_amount_reporting,
        reversals.line_amount_reporting is null as is_missing_rate

    from positioned
    inner join reversals
        on positioned.reversal_order_id = reversals.reversal_order_id
        and positioned.reversal_line_number = reversals.reversal_line_number

)

select * from allocated
