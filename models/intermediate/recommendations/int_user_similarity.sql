{#- The self_join similarity engine (dbt build --vars '{similarity_engine: self_join}'); the default
    engine is the exact sparse product in similarity_sparse/int_user_similarity.py. -#}
{{ config(materialized='insert_by_bucket', enabled=var('similarity_engine', 'sparse') == 'self_join') }}

{#- Logs the join-size estimate and picks the bucket count before the build. -#}
{%- set n_buckets = recs_similarity_plan(ref('int_ratings__centred')) %}

with

centred_ratings as (

    select * from {{ ref('int_ratings__centred') }}

),

rating_stats as (

    select * from {{ ref('int_users__rating_stats') }}

),

similarity as (

    {{ recs_user_similarity('centred_ratings', 'rating_stats', n_buckets) }}

)

select * from similarity
