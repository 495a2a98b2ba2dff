with

customer_days as (

    select * from {{ ref('int_orders__aggregated_to_customer_days') }}

),

repeat_days as (

    -- More than one distinct non-cancelled ORDER that day: a basket is one purchase.
    select
        customer_id,
        customer_key,
        order_date as purchase_date,
        order_count,
        line_count,
        total_quantity,
        net_quantity,
        gross_amount,
        net_amount,
        missing_rate_lines,
        first_ordered_at,
        last_ordered_at

    from customer_days
    where order_count > 1

)

select * from repeat_days
