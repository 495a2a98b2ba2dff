{{ config(materialized='table') }}

with

current_ratings as (

    select * from {{ ref('int_ratings__current') }}

),

rating_stats as (

    {{ recs_user_rating_stats('current_ratings') }}

)

select * from rating_stats
