{%- set lake = lake_source('exchange_rates', {
    'rate_date': 'date',
    'currency': 'string',
    'base_currency': 'string',
    'rate': 'double',
    'event_date': 'date',
    'filename': 'string',
}) -%}
with

source as (

    select * from {{ lake }}

),

renamed as (

    select
        cast(rate_date as date) as rate_date,
        cast(currency as string) as currency,
        cast(base_currency as string) as base_currency,
        -- A ratio, not money: DOUBLE (amounts are rounded to DECIMAL(18, 4) after conversion).
        cast(rate as double) as rate,
        {{ lake_batch_id('filename') }} as batch_id

    from source

)

select * from renamed
