with

customers as (

    select * from {{ ref('int_users__country_resolved') }}

),

final as (

    select
        user_id as customer_id,
        user_key as customer_key,
        country_raw,
        country_code,
        country_name,
        country_region,
        country_status,
        signed_up_at,
        batch_id

    from customers

)

select * from final
