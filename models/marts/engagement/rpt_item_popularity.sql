{{ config(
    pre_hook="{{ preserve_insertion_order(true) }}",
    post_hook="{{ preserve_insertion_order(false) }}"
) }}
with

user_items as (

    -- One row per (audience user, item): distinct viewers are then simply rows.
    select * from {{ ref('int_page_views__aggregated_to_user_items') }}

),

items as (

    select * from {{ ref('stg_shop__items') }}

),

per_item as (

    select
        item_id,
        count(*) as viewer_count,
        cast(sum(view_count) as bigint) as view_count

    from user_items
    group by item_id

),

ranked as (

    select
        per_item.item_id,
        items.page_url_path,
        items.category,
        per_item.viewer_count,
        per_item.view_count,
        -- BIGINT on both engines (Spark's rank() is an INTEGER).
        cast(rank() over (order by per_item.viewer_count desc) as bigint) as popularity_rank,
        cast(upper('{{ var("popularity_country") }}') as string) as audience_country_code,
        {{ date_var('popularity_since') }} as audience_since

    from per_item
    inner join items on per_item.item_id = items.item_id

)

select * from ranked
order by popularity_rank, page_url_path
