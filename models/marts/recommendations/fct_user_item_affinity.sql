with

page_views as (

    select * from {{ ref('stg_shop__page_views') }}

),

purchases as (

    select * from {{ ref('stg_shop__purchases') }}

),

current_ratings as (

    select * from {{ ref('int_ratings__current') }}

),

affinity as (

    {{ recs_user_item_affinity('page_views', 'purchases', 'current_ratings') }}

)

select * from affinity
