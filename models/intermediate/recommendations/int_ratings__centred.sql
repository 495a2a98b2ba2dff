{{ config(materialized='table') }}

with

current_ratings as (

    select * from {{ ref('int_ratings__current') }}

),

rating_stats as (

    select * from {{ ref('int_users__rating_stats') }}

),

centred as (

    {{ recs_centred_ratings('current_ratings', 'rating_stats') }}

)

select * from centred
