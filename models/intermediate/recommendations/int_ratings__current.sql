{{ config(materialized='table') }}

with

ratings as (

    select * from {{ ref('stg_shop__ratings') }}

),

current_ratings as (

    {{ recs_latest_ratings('ratings') }}

)

select * from current_ratings
