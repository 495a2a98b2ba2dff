{%- set lake = lake_source('users', {
    'user_id': 'string',
    'country_code': 'string',
    'signup_at': 'timestamp',
    'filename': 'string',
}) -%}
with

source as (

    select * from {{ lake }}

),

renamed as (

    select
        cast(user_id as string) as user_id,
        {{ surrogate_key('user_id') }} as user_key,
        -- As delivered (a code, a legacy code or a name); resolved in int_users__country_resolved.
        cast(country_code as string) as country_raw,
        cast(signup_at as timestamp) as signed_up_at,
        {{ lake_snapshot_batch_id('filename') }} as batch_id,
        -- Columns added by an accepted contract version pass through unchanged.
        {{ star_except(['user_id', 'country_code', 'signup_at', 'filename']) }}

    from source

),

latest_snapshot as (

    -- A later snapshot batch supersedes an earlier one (batch ids sort by time).
    select * from renamed
    qualify row_number() over (partition by user_id order by batch_id desc) = 1

)

select * from latest_snapshot
