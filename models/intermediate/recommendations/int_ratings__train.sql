{{ config(materialized='table') }}

-- Training copy for the offline evaluation: the latest rating per (user, item)
-- among ratings made before the cutoff (a revision after the cutoff is test data).
with

ratings as (

    select * from {{ ref('stg_shop__ratings') }}

),

train_ratings as (

    {{ recs_latest_ratings('ratings', before=var('evaluation_cutoff')) }}

)

select * from train_ratings
