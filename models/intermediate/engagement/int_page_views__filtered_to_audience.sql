{#- Authenticated page views by users of var('popularity_country') on or after
    var('popularity_since') (local dates, var('timezone')): the audience shared
    by rpt_item_popularity and fct_user_item_views. -#}
with

page_views as (

    select * from {{ ref('stg_shop__page_views') }}

),

users as (

    select * from {{ ref('int_users__country_resolved') }}

),

recent_views as (

    select
        page_view_id,
        user_id,
        item_id,
        viewed_at,
        {{ local_date('viewed_at') }} as view_date

    from page_views
    -- Constant bound on the partition column: prunes hive partitions.
    where {{ event_date_at_or_after('event_date', date_var('popularity_since')) }}
        -- Anonymous views never count (the join below would drop them too).
        and user_id is not null

),

audience as (

    select
        user_id,
        country_code
    from users
    where country_code = upper('{{ var("popularity_country") }}')

),

audience_views as (

    -- users has one row per user_id (tested unique), so this join cannot fan out.
    select
        recent_views.page_view_id,
        recent_views.user_id,
        recent_views.item_id,
        recent_views.viewed_at,
        recent_views.view_date,
        audience.country_code

    from recent_views
    inner join audience on recent_views.user_id = audience.user_id
    where recent_views.view_date >= {{ date_var('popularity_since') }}

)

select * from audience_views
