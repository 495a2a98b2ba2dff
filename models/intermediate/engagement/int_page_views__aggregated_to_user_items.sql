{#- One row per (audience user, item): the shared first pass of fct_user_item_views and
    rpt_item_popularity. The views are accumulated incrementally per (user, item) for
    every country (int_page_views__accumulated_to_user_items); the audience, users of
    var('popularity_country'), is applied here, at build time, so it always follows the
    users' current country. A view: the join of the stored aggregate to the audience is
    cheap next to the lake scan it replaced, and each mart reads it once. -#}
{{ config(materialized='view') }}
with

user_items as (

    select * from {{ ref('int_page_views__accumulated_to_user_items') }}

),

users as (

    select * from {{ ref('int_users__country_resolved') }}

),

audience as (

    select user_id
    from users
    where country_code = upper('{{ var("popularity_country") }}')

),

audience_user_items as (

    -- users has one row per user_id (tested unique), so this join cannot fan out.
    select
        user_items.user_id,
        user_items.item_id,
        user_items.view_count,
        user_items.first_viewed_at,
        user_items.last_viewed_at

    from user_items
    inner join audience on user_items.user_id = audience.user_id

)

select * from audience_user_items
