with

customer_days as (

    select * from {{ ref('int_purchases__aggregated_to_customer_days') }}

),

users as (

    select * from {{ ref('stg_shop__users') }}

),

per_customer as (

    select
        customer_id,
        cast(sum(purchase_count) as bigint) as purchase_count,
        cast(sum(total_quantity) as bigint) as total_quantity,
        cast(sum(total_amount) as decimal(18, 2)) as total_amount,
        min(min_amount) as min_amount,
        max(max_amount) as max_amount,
        min(first_purchased_at) as first_purchased_at,
        max(last_purchased_at) as last_purchased_at,
        min(purchase_date) as first_purchase_date,
        max(purchase_date) as last_purchase_date,
        count(*) as purchase_days,
        count(*) filter (where purchase_count > 1) as repeat_purchase_days

    from customer_days
    group by customer_id

),

summary as (

    -- users is unique on user_id (tested), so this left join keeps one row per customer.
    select
        per_customer.customer_id,
        users.country_code,
        per_customer.purchase_count,
        per_customer.total_quantity,
        per_customer.total_amount,
        per_customer.min_amount,
        per_customer.max_amount,
        cast(per_customer.total_amount as double) / per_customer.purchase_count as avg_amount,
        per_customer.first_purchased_at,
        per_customer.last_purchased_at,
        per_customer.first_purchase_date,
        per_customer.last_purchase_date,
        per_customer.purchase_days,
        per_customer.repeat_purchase_days

    from per_customer
    left join users on per_customer.customer_id = users.user_id

)

select * from summary
