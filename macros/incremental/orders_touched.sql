{#- The orders whose netting a purchase model recomputes for the batches in its window
    (docs/incremental.md, "Exactly once"). Netting is closed per original order: a
    line's netting, its activity date and its order's totals depend only on the lines
    of its order and the reversals that reference that order. So an order is touched
    when a batch in the window delivers one of its lines or a reversal of it
    (order_lines, purchases), or a rate that can price one of them (exchange_rates: a
    rate of rate_date r can be chosen for activity dates r to r + fx_max_staleness_days,
    directly, inverted or as a triangulation leg).
    Renders the CTEs window_batches, window_rate_days, touched_lines and touched_orders
    (order_id),
    each followed by a comma, for the model's top-level WITH list. -#}
{% macro orders_touched_by_new_batches() -%}
    {{ return(adapter.dispatch('orders_touched_by_new_batches', 'shop_analytics')()) }}
{%- endmacro %}

{#- Spark builds the purchase marts as full tables (docs/spark.md): no order is touched by
    new batches, and the models read touched_orders only in their incremental branches or in
    tombstone CTEs that a full build leaves empty. Only touched_orders is rendered. -#}
{% macro spark__orders_touched_by_new_batches() -%}
    {%- if is_incremental() -%}
        {{ exceptions.raise_compiler_error("incremental builds of " ~ this.identifier ~ " are not ported to Spark") }}
    {%- endif -%}
touched_orders as (

    select cast(null as string) as order_id
    where false

),
{%- endmacro %}

{% macro default__orders_touched_by_new_batches() -%}
    {%- set staleness = days_var('fx_max_staleness_days', 7) -%}
window_batches as (

    {{ new_batches(['order_lines', 'purchases', 'exchange_rates']) }}

),

window_rate_days as (

    select
        min(rates.rate_date) as first_date,
        max(rates.rate_date) + {{ staleness }} as last_date
    from {{ ref('stg_shop__exchange_rates') }} as rates
    inner join window_batches
        on
            window_batches.source_name = 'exchange_rates'
            and rates.batch_id = window_batches.batch_id

),

touched_lines as (

    -- Delivered lines, and lines on a day a new rate can price.
    select
        lines.order_id,
        lines.original_order_id
    from {{ ref('int_order_lines__converted') }} as lines
    inner join window_batches
        on
            lines.source_table = window_batches.source_name
            and lines.batch_id = window_batches.batch_id
    union
    select
        lines.order_id,
        lines.original_order_id
    from {{ ref('int_order_lines__converted') }} as lines
    inner join window_rate_days
        on lines.activity_date between window_rate_days.first_date and window_rate_days.last_date

),

touched_orders as (

    select order_id from touched_lines
    union
    select original_order_id as order_id from touched_lines
    where original_order_id is not null

),
{%- endmacro %}


{#- The (customer, local order date)s of the touched orders: every pair a touched order had
    before the window's batches and has now. An order's customer and date are those of its
    earliest sale line, so each such pair is one of its sale lines' (user, local date).
    Renders the CTEs of orders_touched_by_new_batches and changed_customer_days
    (customer_id, order_date), each followed by a comma. -#}
{% macro customer_days_touched_by_new_batches() -%}
    {{ orders_touched_by_new_batches() }}

changed_customer_days as (

    select distinct
        touched_sale_lines.user_id as customer_id,
        {{ local_date('touched_sale_lines.ordered_at') }} as order_date
    from {{ ref('int_order_lines__converted') }} as touched_sale_lines
    inner join touched_orders
        on touched_sale_lines.order_id = touched_orders.order_id
    where touched_sale_lines.line_type = 'sale' and touched_sale_lines.user_id is not null

),
{%- endmacro %}
