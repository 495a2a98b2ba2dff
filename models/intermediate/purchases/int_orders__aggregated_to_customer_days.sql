{#- One row per (customer, order date) with at least one non-cancelled order
    of an identified customer: the shared first pass of
    fct_same_day_repeat_purchases and dim_customer_purchase_summary. A
    "purchase" is an ORDER, so a basket of 40 lines is one purchase; the order
    date is the local date of the order's time in var('timezone'). Guest
    orders (no customer) count in revenue, not here.
    Incremental by changed keys (docs/incremental.md): a run recomputes, from
    the whole history, the (customer, day)s of the orders its new batches touch.
    A changed (customer, day) left without a purchase (its only order cancelled,
    or moved to an earlier day) is written as a tombstone (order_count 0) that
    the post-hook deletes, in the same transaction. A full build reads
    everything and writes no tombstone. -#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='delete+insert',
    unique_key=['customer_id', 'order_date'],
    on_schema_change='fail',
    pre_hook="{{ batch_window_open(['int_order_lines__converted', 'int_orders__aggregated']) }}",
    post_hook=["{{ delete_tombstones('order_count = 0') }}", "{{ batch_window_close() }}"],
) }}
-- Read by orders_touched_by_new_batches and the hooks:
{{ ingest_audit_dependency() }}
-- depends_on: {{ ref('stg_shop__exchange_rates') }}
-- depends_on: {{ ref('int_order_lines__converted') }}
{%- set incremental = is_incremental() %}
with

orders as (

    select * from {{ ref('int_orders__aggregated') }}

),

-- window_batches, window_rate_days, touched_lines, touched_orders, changed_customer_days:
{{ customer_days_touched_by_new_batches() }}

purchases as (

    select * from orders
    where
        customer_id is not null
        and order_status <> 'cancelled'
        {%- if incremental %}
            and exists (
                select 1 from changed_customer_days
                where
                    changed_customer_days.customer_id = orders.customer_id
                    and changed_customer_days.order_date = orders.order_date
            )
        {%- endif %}

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

),

vanished_customer_days as (

    -- Incremental runs only: no purchase left that day.
    select
        customer_id,
        order_date,
        0 as order_count
    from changed_customer_days
    where
        {{ incremental }}
        and not exists (
            select 1 from customer_days
            where
                customer_days.customer_id = changed_customer_days.customer_id
                and customer_days.order_date = changed_customer_days.order_date
        )

)

-- By name: a tombstone's other columns are NULL.
{{ union_tombstones('customer_days', 'vanished_customer_days') }}
