{{ config(
    pre_hook="{{ preserve_insertion_order(true) }}",
    post_hook="{{ preserve_insertion_order(false) }}"
) }}
{#- The table is stored in the source document's order (view count, then user;
    the page path breaks the remaining ties), so a plain scan returns it in that
    order. Insertion order is kept only while this model is written; the
    post-hook restores the profile's setting. -#}
with

user_items as (

    select * from {{ ref('int_page_views__aggregated_to_user_items') }}

),

items as (

    select * from {{ ref('stg_shop__items') }}

),

named as (

    -- items is unique on item_id (tested), so the join neither fans out nor
    -- touches the raw view rows.
    select
        user_items.user_id,
        user_items.item_id,
        items.page_url_path,
        user_items.view_count,
        user_items.first_viewed_at,
        user_items.last_viewed_at

    from user_items
    inner join items on user_items.item_id = items.item_id

)

select * from named
order by view_count, user_id, page_url_path
