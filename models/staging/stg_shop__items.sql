with

source as (

    select * from {{ source('shop', 'items') }}

),

renamed as (

    select
        cast(item_id as bigint) as item_id,
        cast(category as varchar) as category,
        cast(page_url_path as varchar) as page_url_path,
        cast(price as decimal(12, 2)) as price,
        cast(created_at as timestamp) as created_at,
        regexp_extract(filename, 'batch_([^/]+)\.parquet$', 1) as batch_id,
        -- Columns added by an accepted contract version pass through unchanged.
        * exclude (item_id, category, page_url_path, price, created_at, filename)

    from source

),

latest_snapshot as (

    select * from renamed
    qualify row_number() over (partition by item_id order by batch_id desc) = 1

)

select * from latest_snapshot
