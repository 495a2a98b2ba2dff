with

customer_days as (

    select * from {{ ref('int_purchases__aggregated_to_customer_days') }}

),

repeat_days as (

    select
        customer_id,
        purchase_date,
        purchase_count,
        total_quantity,
        total_amount,
        first_purchased_at,
        last_purchased_at

    from customer_days
    where purchase_count > 1

)

select * from repeat_days
