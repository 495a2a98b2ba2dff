with

order_lines as (

    select * from {{ ref('int_order_lines__netted') }}

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

    from order_lines

)

select * from final
