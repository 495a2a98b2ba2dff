{#- Incremental by changed keys (docs/incremental.md): a run rewrites the
    (customer, day)s of the orders its new batches touch, read from
    int_orders__aggregated_to_customer_days (brought up to date before it). A
    changed day that is no longer a repeat day (a cancellation, an order moved
    to an earlier day) is written as a tombstone (order_count 0) that the
    post-hook deletes, in the same transaction. -#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='delete+insert',
    unique_key=['customer_id', 'purchase_date'],
    on_schema_change='fail',
    pre_hook="{{ batch_window_open(['int_order_lines__converted', 'int_orders__aggregated_to_customer_days']) }}",
    post_hook=["{{ delete_tombstones('order_count = 0') }}", "{{ batch_window_close() }}"],
) }}
-- Read by orders_touched_by_new_batches and the hooks:
{{ ingest_audit_dependency() }}
-- depends_on: {{ ref('stg_shop__exchange_rates') }}
-- depends_on: {{ ref('int_order_lines__converted') }}
{%- set incremental = is_incremental() %}
with

customer_days as (

    select * from {{ ref('int_orders__aggregated_to_customer_days') }}

),

-- window_batches, window_rate_days, touched_lines, touched_orders, changed_customer_days:
{{ customer_days_touched_by_new_batches() }}

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
    where
        order_count > 1
        {%- if incremental %}
            and exists (
                select 1 from changed_customer_days
                where
                    changed_customer_days.customer_id = customer_days.customer_id
                    and changed_customer_days.order_date = customer_days.order_date
            )
        {%- endif %}

),

vanished_repeat_days as (

    -- Incremental runs only: not a repeat day any more.
    select
        customer_id,
        order_date as purchase_date,
        0 as order_count
    from changed_customer_days
    where
        {{ incremental }}
        and not exists (
            select 1 from repeat_days
            where
                repeat_days.customer_id = changed_customer_days.customer_id
                and repeat_days.purchase_date = changed_customer_days.order_date
        )

)

-- By name: a tombstone's other columns are NULL.
{{ union_tombstones('repeat_days', 'vanished_repeat_days') }}
