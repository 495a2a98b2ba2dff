{%- set lake = lake_source('items', {
    'item_id': 'varchar',
    'name': 'varchar',
    'category': 'varchar',
    'page_url_path': 'varchar',
    'price': 'double',
    'price_currency': 'varchar',
    'created_at': 'timestamp',
    'filename': 'varchar',
}) -%}
with

source as (

    select * from {{ lake }}

),

renamed as (

    select
        cast(item_id as varchar) as item_id,
        {{ surrogate_key('item_id') }} as item_key,
        cast(name as varchar) as item_name,
        cast(category as varchar) as category,
        cast(page_url_path as varchar) as page_url_path,
        -- Whole minor units of price_currency (gate), so the cast is exact.
        cast(price as decimal(18, 4)) as price,
        cast(price_currency as varchar) as price_currency,
        cast(created_at as timestamp) as created_at,
        regexp_extract(filename, 'batch_([^/]+)\.parquet$', 1) as batch_id,
        -- Columns added by an accepted contract version pass through unchanged.
        * exclude (item_id, name, category, page_url_path, price, price_currency, created_at, filename)

    from source

),

latest_snapshot as (

    select * from renamed
    qualify row_number() over (partition by item_id order by batch_id desc) = 1

)

select * from latest_snapshot
