{#- Incremental by changed keys (docs/incremental.md): a run rewrites every line
    of the orders its new batches touch and every reversal that references one
    of them (netting is closed per original order), read from
    int_order_lines__netted. Lines are never deleted from the lake, so
    delete+insert of the recomputed lines is exact. -#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='delete+insert',
    unique_key=['order_id', 'line_number'],
    on_schema_change='fail',
    pre_hook="{{ batch_window_open(['int_order_lines__converted', 'int_order_lines__netted']) }}",
    post_hook="{{ batch_window_close() }}",
) }}
-- Read by orders_touched_by_new_batches and the hooks:
{{ ingest_audit_dependency() }}
-- depends_on: {{ ref('stg_shop__exchange_rates') }}
-- depends_on: {{ ref('int_order_lines__converted') }}
with

order_lines as (

    select * from {{ ref('int_order_lines__netted') }}

),

-- window_batches, window_rate_days, touched_lines, touched_orders:
{{ orders_touched_by_new_batches() }}

changed_lines as (

    select * from order_lines
    {%- if is_incremental() %}
        where
            order_id in (select touched_orders.order_id from touched_orders)
            or original_order_id in (select touched_orders.order_id from touched_orders)
    {%- endif %}

),

final as (

    select
        order_id,
        line_number,
        order_key,
        line_type,
        user_id as customer_id,
        user_key as customer_key,
        item_id,
        item_key,
        ordered_at,
        activity_date,
        quantity,
        unit_price,
        line_amount,
        currency,
        original_order_id,
        original_line_number,
        is_credit_note,
        signed_quantity,
        signed_amount,
        cancelled_quantity,
        returned_quantity,
        net_quantity,
        reversed_amount,
        net_amount,
        is_over_reversed,
        reporting_currency,
        fx_rate,
        fx_method,
        fx_rate_date,
        fx_rate_age_days,
        line_amount_reporting,
        signed_amount_reporting,
        reversed_amount_reporting,
        net_amount_reporting,
        is_missing_rate,
        source_table,
        batch_id

    from changed_lines

)

select * from final
