{#- Incremental by changed keys (docs/incremental.md): a run rewrites the orders
    its new batches touch (a line, a reversal of it, or a rate that prices one of
    them), read from int_orders__aggregated. An order never disappears (lines are
    never deleted from the lake), so delete+insert of the recomputed orders is exact. -#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='delete+insert',
    unique_key='order_id',
    on_schema_change='fail',
    pre_hook="{{ batch_window_open(['int_order_lines__converted', 'int_orders__aggregated']) }}",
    post_hook="{{ batch_window_close() }}",
) }}
-- Read by orders_touched_by_new_batches and the hooks:
{{ ingest_audit_dependency() }}
-- depends_on: {{ ref('stg_shop__exchange_rates') }}
-- depends_on: {{ ref('int_order_lines__converted') }}
with

orders as (

    select * from {{ ref('int_orders__aggregated') }}

),

-- window_batches, window_rate_days, touched_lines, touched_orders:
{{ orders_touched_by_new_batches() }}

changed_orders as (

    select * from orders
    {%- if is_incremental() %}
        where order_id in (select touched_orders.order_id from touched_orders)
    {%- endif %}

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

    from changed_orders

)

select * from final
