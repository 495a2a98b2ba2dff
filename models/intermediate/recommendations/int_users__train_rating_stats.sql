{{ config(materialized='table') }}

with

train_ratings as (

    select * from {{ ref('int_ratings__train') }}

),

rating_stats as (

    {{ recs_user_rating_stats('train_ratings') }}

)

select * from rating_stats
