{%- set lake = lake_source('items', {
    'item_id': 'string',
    'name': 'string',
    'category': 'string',
    'page_url_path': 'string',
    'price': 'double',
    'price_currency': 'string',
    'created_at': 'timestamp',
    'filename': 'string',
}) -%}
with

source as (

    select * from {{ lake }}

),

renamed as (

    select
        cast(item_id as string) as item_id,
        {{ surrogate_key('item_id') }} as item_key,
        cast(name as string) as item_name,
        cast(category as string) as category,
        cast(page_url_path as string) as page_url_path,
        -- Whole minor units of price_currency (gate), so the cast is exact.
        cast(price as decimal(18, 4)) as price,
        cast(price_currency as string) as price_currency,
        cast(created_at as timestamp) as created_at,
        {{ lake_snapshot_batch_id('filename') }} as batch_id,
        -- Columns added by an accepted contract version pass through unchanged.
        {{ star_except([
            'item_id', 'name', 'category', 'page_url_path', 'price', 'price_currency', 'created_at', 'filename'
        ]) }}

    from source

),

latest_snapshot as (

    select * from renamed
    qualify row_number() over (partition by item_id order by batch_id desc) = 1

)

select * from latest_snapshot
