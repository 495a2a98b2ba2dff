{#- One row per (customer, order date) with at least one non-cancelled order
    of an identified customer: the shared first pass of
    fct_same_day_repeat_purchases and dim_customer_purchase_summary. A
    "purchase" is an ORDER, so a basket of 40 lines is one purchase; the order
    date is the local date of the order's time in var('timezone'). Guest
    orders (no customer) count in revenue, not here. A table: both marts read it. -#}
{{ config(materialized='table') }}
with

orders as (

    select * from {{ ref('int_orders__aggregated') }}

),

purchases as (

    select * from orders
    where customer_id is not null and order_status <> 'cancelled'

),

customer_days as (

    select
        customer_id,
        any_value(customer_key) as customer_key,
        order_date,
        count(*) as order_count,
        cast(sum(line_count) as bigint) as line_count,
        cast(sum(quantity) as bigint) as total_quantity,
        cast(sum(net_quantity) as bigint) as net_quantity,
        cast(sum(gross_amount_reporting) as decimal(18, 4)) as gross_amount,
        cast(sum(net_amount_reporting) as decimal(18, 4)) as net_amount,
        cast(sum(missing_rate_lines) as bigint) as missing_rate_lines,
        min(ordered_at) as first_ordered_at,
        max(ordered_at) as last_ordered_at

    from purchases
    group by customer_id, order_date

)

select * from customer_days
