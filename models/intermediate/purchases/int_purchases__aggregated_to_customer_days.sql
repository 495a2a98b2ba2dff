{#- One row per (customer, local purchase date): the shared first pass of both
    purchase marts. A table, so the lake's purchases are read and deduplicated
    once for both marts instead of once per mart (the lake holds one small
    file per batch and day, and each scan pays for every file). -#}
{{ config(materialized='table') }}
with

purchases as (

    select * from {{ ref('stg_shop__purchases') }}

),

identified as (

    -- A purchase without a customer cannot belong to a customer's day.
    select
        user_id as customer_id,
        {{ local_date('purchased_at') }} as purchase_date,
        purchased_at,
        amount,
        quantity

    from purchases
    where user_id is not null

),

customer_days as (

    select
        customer_id,
        purchase_date,
        count(*) as purchase_count,
        cast(sum(quantity) as bigint) as total_quantity,
        cast(sum(amount) as decimal(18, 2)) as total_amount,
        min(amount) as min_amount,
        max(amount) as max_amount,
        min(purchased_at) as first_purchased_at,
        max(purchased_at) as last_purchased_at

    from identified
    group by customer_id, purchase_date

)

select * from customer_days
