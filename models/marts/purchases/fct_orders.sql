with

orders as (

    select * from {{ ref('int_orders__aggregated') }}

),

final as (

    select
        order_id,
        order_key,
        customer_id,
        customer_key,
        ordered_at,
        order_date,
        order_status,
        currency,
        line_count,
        quantity,
        cancelled_quantity,
        returned_quantity,
        net_quantity,
        gross_amount,
        reversed_amount,
        net_amount,
        reporting_currency,
        gross_amount_reporting,
        reversed_amount_reporting,
        net_amount_reporting,
        missing_rate_lines,
        is_over_reversed,
        last_reversed_at

    from orders

)

select * from final
