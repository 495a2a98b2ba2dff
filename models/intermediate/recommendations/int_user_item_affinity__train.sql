{{ config(materialized='table') }}

with

page_views as (

    select * from {{ ref('stg_shop__page_views') }}

),

purchases as (

    select * from {{ ref('stg_shop__purchases') }}

),

train_ratings as (

    select * from {{ ref('int_ratings__train') }}

),

affinity as (

    {{ recs_user_item_affinity('page_views', 'purchases', 'train_ratings', before=var('evaluation_cutoff')) }}

)

select * from affinity
