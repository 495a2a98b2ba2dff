with

items as (

    select * from {{ ref('stg_shop__items') }}

),

categories as (

    select * from {{ ref('categories') }}

),

final as (

    -- categories is unique on category (tested), so the left join keeps one row per item.
    select
        items.item_id,
        items.item_key,
        items.item_name,
        items.category,
        categories.department,
        case
            when items.category is null then 'missing'
            when categories.category is null then 'unknown'
            else 'valid'
        end as category_status,
        items.page_url_path,
        items.price,
        items.price_currency,
        items.created_at,
        items.batch_id

    from items
    left join categories on items.category = categories.category

)

select * from final
