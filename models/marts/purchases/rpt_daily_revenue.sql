with

order_lines as (

    select * from {{ ref('int_order_lines__netted') }}

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

    from order_lines
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

)

select * from final
