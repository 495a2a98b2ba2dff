with

orders as (

    select * from {{ ref('int_orders__aggregated') }}

),

customer_days as (

    select * from {{ ref('int_orders__aggregated_to_customer_days') }}

),

order_lines as (

    select * from {{ ref('int_order_lines__netted') }}

),

customers as (

    select * from {{ ref('int_users__country_resolved') }}

),

per_customer_orders as (

    -- Referenced cancellations and returns are netted on their order, whenever they came.
    select
        customer_id,
        any_value(customer_key) as customer_key,
        count(*) filter (where order_status <> 'cancelled') as order_count,
        count(*) filter (where order_status = 'cancelled') as cancelled_order_count,
        cast(sum(line_count) as bigint) as line_count,
        cast(sum(net_quantity) as bigint) as net_quantity,
        sum(gross_amount_reporting) as gross_amount,
        sum(reversed_amount_reporting) as reversed_amount,
        sum(missing_rate_lines) as missing_rate_lines,
        min(ordered_at) as first_ordered_at,
        max(ordered_at) as last_ordered_at

    from orders
    where customer_id is not null
    group by customer_id

),

credit_notes as (

    -- Reversals of no known order reduce their customer's totals.
    select
        user_id as customer_id,
        any_value(user_key) as customer_key,
        cast(sum(quantity) as bigint) as credit_note_quantity,
        coalesce(sum(line_amount_reporting), 0) as credit_note_amount,
        count(*) filter (where is_missing_rate) as missing_rate_lines

    from order_lines
    where is_credit_note and user_id is not null
    group by user_id

),

per_customer_days as (

    select
        customer_id,
        min(order_date) as first_order_date,
        max(order_date) as last_order_date,
        count(*) as order_days,
        count(*) filter (where order_count > 1) as repeat_order_days

    from customer_days
    group by customer_id

),

summary as (

    -- customers is unique on user_id (tested), so the left join keeps one row per customer.
    select
        coalesce(per_customer_orders.customer_id, credit_notes.customer_id) as customer_id,
        coalesce(per_customer_orders.customer_key, credit_notes.customer_key) as customer_key,
        customers.country_code,
        coalesce(customers.country_status, 'missing') as country_status,
        coalesce(per_customer_orders.order_count, 0) as order_count,
        coalesce(per_customer_orders.cancelled_order_count, 0) as cancelled_order_count,
        coalesce(per_customer_orders.line_count, 0) as line_count,
        cast(
            coalesce(per_customer_orders.net_quantity, 0) - coalesce(credit_notes.credit_note_quantity, 0)
            as bigint
        )
            as net_quantity,
        cast(coalesce(per_customer_orders.gross_amount, 0) as decimal(18, 4)) as gross_amount,
        cast(coalesce(per_customer_orders.reversed_amount, 0) as decimal(18, 4)) as reversed_amount,
        cast(coalesce(credit_notes.credit_note_amount, 0) as decimal(18, 4)) as credit_note_amount,
        cast(
            coalesce(per_customer_orders.gross_amount, 0)
            - coalesce(per_customer_orders.reversed_amount, 0)
            - coalesce(credit_notes.credit_note_amount, 0)
            as decimal(18, 4)
        ) as net_amount,
        cast(
            coalesce(per_customer_orders.missing_rate_lines, 0) + coalesce(credit_notes.missing_rate_lines, 0)
            as bigint
        ) as missing_rate_lines,
        per_customer_orders.first_ordered_at,
        per_customer_orders.last_ordered_at,
        per_customer_days.first_order_date,
        per_customer_days.last_order_date,
        coalesce(per_customer_days.order_days, 0) as order_days,
        coalesce(per_customer_days.repeat_order_days, 0) as repeat_order_days

    from per_customer_orders
    full outer join credit_notes on per_customer_orders.customer_id = credit_notes.customer_id
    left join per_customer_days
        on coalesce(per_customer_orders.customer_id, credit_notes.customer_id) = per_customer_days.customer_id
    left join customers
        on coalesce(per_customer_orders.customer_id, credit_notes.customer_id) = customers.user_id

)

select * from summary
