{#- Every order line with its activity date (the local date in
    var('timezone') of its order's time for a sale, of its own time for a
    cancellation or return) and its amount in var('reporting_currency')
    (docs/marts.md, "Currencies"). The rate of a (currency, date) is, in order
    of preference:
    1. 1 when the currency is the reporting currency (no rates needed);
    2. a direct or inverse rate currency -> reporting on the latest rate_date
       <= the activity date within var('fx_max_staleness_days') (direct wins
       on the same date);
    3. triangulated through one common base B: (currency -> B) / (reporting
       -> B), each leg the latest within the same window; the base whose
       older leg is more recent wins, then the alphabetically first;
    4. none: the reporting amount is NULL and is_missing_rate is true
       (counted by a warn test and a post-build check, never dropped).
    A table: netting, orders and the daily report all read it. -#}
{{ config(
    materialized='table',
    pre_hook="{{ batch_window_open([]) }}",
    post_hook="{{ batch_window_close() }}",
) }}
-- The batch watermark (docs/incremental.md) reads the ingest audit:
{{ ingest_audit_dependency() }}
{%- set reporting = currency_var('reporting_currency', 'USD') -%}
{%- set staleness = days_var('fx_max_staleness_days', 7) %}
with

order_lines as (

    select * from {{ ref('stg_shop__order_lines') }}

),

exchange_rates as (

    select * from {{ ref('stg_shop__exchange_rates') }}

),

activity_times as (

    -- Sales count on their ORDER's date (its earliest sale line, so an order
    -- spanning midnight stays on one day); reversals on their own date.
    select
        *,
        case
            when line_type = 'sale'
                then min(case when line_type = 'sale' then ordered_at end) over (partition by order_id)
            else ordered_at
        end as activity_at

    from order_lines

),

dated_lines as (

    select
        {{ star_except(['activity_at']) }},
        {{ local_date('activity_at') }} as activity_date

    from activity_times

),

rate_pairs as (

    -- Each rate read both ways: currency -> base directly, base -> currency inverted.
    select
        rate_date,
        currency as from_currency,
        base_currency as to_currency,
        rate,
        1 as preference
    from exchange_rates
    union all
    select
        rate_date,
        base_currency as from_currency,
        currency as to_currency,
        1.0 / rate as rate,
        2 as preference
    from exchange_rates

),

needed_rates as (

    select distinct
        currency,
        activity_date
    from dated_lines
    where currency <> {{ reporting }}

),

direct_rates as (

    select
        needed_rates.currency,
        needed_rates.activity_date,
        rate_pairs.rate as fx_rate,
        rate_pairs.rate_date as fx_rate_date,
        case rate_pairs.preference when 1 then 'direct' else 'inverse' end as fx_method

    from needed_rates
    inner join rate_pairs
        on needed_rates.currency = rate_pairs.from_currency
        and rate_pairs.to_currency = {{ reporting }}
        and needed_rates.activity_date >= rate_pairs.rate_date
        and rate_pairs.rate_date >= needed_rates.activity_date - {{ staleness }}
    qualify row_number() over (
            partition by needed_rates.currency, needed_rates.activity_date
            order by rate_pairs.rate_date desc, rate_pairs.preference asc
        ) = 1

),

legs_from_currency as (

    select
        needed_rates.currency,
        needed_rates.activity_date,
        rate_pairs.to_currency as via_currency,
        rate_pairs.rate,
        rate_pairs.rate_date

    from needed_rates
    inner join rate_pairs
        on needed_rates.currency = rate_pairs.from_currency
        and rate_pairs.to_currency <> {{ reporting }}
        and needed_rates.activity_date >= rate_pairs.rate_date
        and rate_pairs.rate_date >= needed_rates.activity_date - {{ staleness }}
    qualify row_number() over (
            partition by needed_rates.currency, needed_rates.activity_date, rate_pairs.to_currency
            order by rate_pairs.rate_date desc, rate_pairs.preference asc
        ) = 1

),

legs_from_reporting as (

    select
        activity_dates.activity_date,
        rate_pairs.to_currency as via_currency,
        rate_pairs.rate,
        rate_pairs.rate_date

    from (select distinct activity_date from needed_rates) as activity_dates
    inner join rate_pairs
        on rate_pairs.from_currency = {{ reporting }}
        and activity_dates.activity_date >= rate_pairs.rate_date
        and rate_pairs.rate_date >= activity_dates.activity_date - {{ staleness }}
    qualify row_number() over (
            partition by activity_dates.activity_date, rate_pairs.to_currency
            order by rate_pairs.rate_date desc, rate_pairs.preference asc
        ) = 1

),

triangulated_rates as (

    select
        legs_from_currency.currency,
        legs_from_currency.activity_date,
        legs_from_currency.rate / legs_from_reporting.rate as fx_rate,
        least(legs_from_currency.rate_date, legs_from_reporting.rate_date) as fx_rate_date,
        'triangulated' as fx_method

    from legs_from_currency
    inner join legs_from_reporting
        on legs_from_currency.activity_date = legs_from_reporting.activity_date
        and legs_from_currency.via_currency = legs_from_reporting.via_currency
    qualify row_number() over (
            partition by legs_from_currency.currency, legs_from_currency.activity_date
            order by
                least(legs_from_currency.rate_date, legs_from_reporting.rate_date) desc,
                legs_from_currency.via_currency
        ) = 1

),

chosen_rates as (

    select * from direct_rates
    union all
    select * from triangulated_rates
    where not exists (
            select 1 from direct_rates
            where
                direct_rates.currency = triangulated_rates.currency
                and direct_rates.activity_date = triangulated_rates.activity_date
        )

),

chosen_rate_digits as (

    -- Each chosen rate's decimal digits, parsed once per (currency, activity_date), not per line.
    select
        *,
        {{ rate_mantissa('fx_rate') }} as fx_rate_mantissa,
        {{ rate_scale('fx_rate') }} as fx_rate_scale

    from chosen_rates

),

converted as (

    -- chosen_rates is unique on (currency, activity_date), so the join keeps one row per line.
    select
        dated_lines.*,
        {{ reporting }} as reporting_currency,
        case
            when dated_lines.currency = {{ reporting }} then 1.0
            else chosen_rates.fx_rate
        end as fx_rate,
        case
            when dated_lines.currency = {{ reporting }} then 'same_currency'
            else coalesce(chosen_rates.fx_method, 'missing')
        end as fx_method,
        chosen_rates.fx_rate_date,
        -- BIGINT on both engines (Spark's datediff is an INTEGER).
        cast({{ days_between('dated_lines.activity_date', 'chosen_rates.fx_rate_date') }} as bigint)
            as fx_rate_age_days,
        case
            when dated_lines.currency = {{ reporting }} then dated_lines.line_amount
            -- Exact decimal arithmetic (docs/marts.md, Currencies): the rate as its shortest
            -- decimal text (the number it was written as), every digit of it; the product
            -- rounded half away from zero to 4 places, once. A DOUBLE product would round a
            -- decimal tie (2 places x 4 places often ends in 50) by its binary error instead,
            -- and a fixed number of rate decimals would cut the digits of a tiny rate.
            else {{ times_rate_exactly('dated_lines.line_amount', 'chosen_rates.fx_rate_mantissa',
                                      'chosen_rates.fx_rate_scale') }}
        end as line_amount_reporting,
        dated_lines.currency <> {{ reporting }} and chosen_rates.fx_rate is null as is_missing_rate

    from dated_lines
    left join chosen_rate_digits as chosen_rates
        on dated_lines.currency = chosen_rates.currency
        and dated_lines.activity_date = chosen_rates.activity_date

)

select * from converted
