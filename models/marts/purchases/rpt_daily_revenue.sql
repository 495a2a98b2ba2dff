{#- Incremental by changed keys (docs/incremental.md): a run recomputes, from
    every line of int_order_lines__netted, the activity dates of the lines of the
    orders its new batches touch. A sale's activity date is its order's earliest
    sale line's date, so a date the order had before these batches is one of its
    lines' dates: both are changed. A changed date left with no line (its only
    order moved to an earlier day) is written with zero line counts and deleted
    by the post-hook, in the same transaction. -#}
{{ config(
    materialized='table' if target.type == 'spark' else 'incremental',
    incremental_strategy='delete+insert',
    unique_key='activity_date',
    on_schema_change='fail',
    pre_hook="{{ batch_window_open(['int_order_lines__converted', 'int_order_lines__netted']) }}",
    post_hook=[
        "{{ delete_tombstones('sale_line_count = 0 and reversal_line_count = 0') }}",
        "{{ batch_window_close() }}",
    ],
) }}
-- Read by orders_touched_by_new_batches and the hooks:
{{ ingest_audit_dependency() }}
-- depends_on: {{ ref('stg_shop__exchange_rates') }}
-- depends_on: {{ ref('int_order_lines__converted') }}
{%- set incremental = is_incremental() %}
with

order_lines as (

    select * from {{ ref('int_order_lines__netted') }}

),

-- window_batches, window_rate_days, touched_lines, touched_orders:
{{ orders_touched_by_new_batches() }}

touched_order_lines as (

    select * from order_lines
    where
        order_id in (select touched_orders.order_id from touched_orders)
        or original_order_id in (select touched_orders.order_id from touched_orders)

),

changed_dates as (

    select activity_date from touched_order_lines
    union
    select {{ local_date('ordered_at') }} as activity_date from touched_order_lines

),

dated_lines as (

    select * from order_lines
    {%- if incremental %}
        where activity_date in (select changed_dates.activity_date from changed_dates)
    {%- endif %}

),

daily as (

    -- By ACTIVITY date: sales on their order's date, reversals on their own.
    select
        activity_date,
        any_value(reporting_currency) as reporting_currency,
        count(distinct order_id) filter (where line_type = 'sale') as order_count,
        count(distinct order_id) filter (where line_type = 'sale' and user_id is null) as guest_order_count,
        count(*) filter (where line_type = 'sale') as sale_line_count,
        count(*) filter (where line_type <> 'sale') as reversal_line_count,
        coalesce(sum(quantity) filter (where line_type = 'sale'), 0) as units_sold,
        coalesce(sum(quantity) filter (where line_type <> 'sale'), 0) as units_reversed,
        coalesce(sum(line_amount_reporting) filter (where line_type = 'sale'), 0) as gross_sales,
        coalesce(
            sum(line_amount_reporting) filter (where line_type = 'cancellation' and not is_credit_note), 0
        ) as cancelled_amount,
        coalesce(sum(line_amount_reporting) filter (where line_type = 'return' and not is_credit_note), 0)
            as returned_amount,
        coalesce(sum(line_amount_reporting) filter (where is_credit_note), 0) as credit_note_amount,
        coalesce(sum(signed_amount_reporting), 0) as net_revenue,
        count(*) filter (where is_missing_rate) as missing_rate_lines

    from dated_lines
    group by activity_date

),

final as (

    select
        activity_date,
        reporting_currency,
        order_count,
        guest_order_count,
        sale_line_count,
        reversal_line_count,
        cast(units_sold as bigint) as units_sold,
        cast(units_reversed as bigint) as units_reversed,
        cast(gross_sales as decimal(18, 4)) as gross_sales,
        cast(cancelled_amount as decimal(18, 4)) as cancelled_amount,
        cast(returned_amount as decimal(18, 4)) as returned_amount,
        cast(credit_note_amount as decimal(18, 4)) as credit_note_amount,
        cast(net_revenue as decimal(18, 4)) as net_revenue,
        missing_rate_lines

    from daily

),

vanished_dates as (

    -- Incremental runs only: a changed date left with no line.
    select
        activity_date,
        0 as sale_line_count,
        0 as reversal_line_count
    from changed_dates
    where {{ incremental }} and activity_date not in (select final.activity_date from final)

)

-- By name: a tombstone's other columns are NULL.
{{ union_tombstones('final', 'vanished_dates') }}
