with

source as (

    select * from {{ source('shop', 'users') }}

),

renamed as (

    select
        cast(user_id as bigint) as user_id,
        upper(cast(country_code as varchar)) as country_code,
        cast(signup_at as timestamp) as signed_up_at,
        regexp_extract(filename, 'batch_([^/]+)\.parquet$', 1) as batch_id,
        -- Columns added by an accepted contract version pass through unchanged.
        * exclude (user_id, country_code, signup_at, filename)

    from source

),

latest_snapshot as (

    -- A later snapshot batch supersedes an earlier one (batch ids sort by time).
    select * from renamed
    qualify row_number() over (partition by user_id order by batch_id desc) = 1

)

select * from latest_snapshot
