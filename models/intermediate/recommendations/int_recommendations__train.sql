{{ config(materialized='table') }}

-- Every recommender trained on data before the cutoff, ranking the full catalogue
-- for the users the evaluation scores.
with

train_similarity as (

    select * from {{ ref('int_user_similarity__train') }}

),

train_centred as (

    select * from {{ ref('int_ratings__train_centred') }}

),

train_rating_stats as (

    select * from {{ ref('int_users__train_rating_stats') }}

),

train_affinity as (

    select * from {{ ref('int_user_item_affinity__train') }}

),

evaluation_users as (

    select distinct user_id from {{ ref('int_recommendations__test_relevant') }}

),

recommendations as (

    {{ recs_top_n('train_similarity', 'train_centred', 'train_rating_stats', 'train_affinity',
                  'evaluation_users', var('evaluation_k')) }}

)

select * from recommendations
