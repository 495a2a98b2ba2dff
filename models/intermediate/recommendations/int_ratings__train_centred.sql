{{ config(materialized='table') }}

with

train_ratings as (

    select * from {{ ref('int_ratings__train') }}

),

rating_stats as (

    select * from {{ ref('int_users__train_rating_stats') }}

),

centred as (

    {{ recs_centred_ratings('train_ratings', 'rating_stats') }}

)

select * from centred
