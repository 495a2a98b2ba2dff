with

similarity as (

    select * from {{ ref('rpt_user_similarity') }}

),

centred_ratings as (

    select * from {{ ref('int_ratings__centred') }}

),

rating_stats as (

    select * from {{ ref('int_users__rating_stats') }}

),

affinity as (

    select * from {{ ref('fct_user_item_affinity') }}

),

users as (

    select user_id from {{ ref('stg_shop__users') }}

),

recommendations as (

    {{ recs_top_n('similarity', 'centred_ratings', 'rating_stats', 'affinity', 'users',
                  var('n_recommendations')) }}

)

select * from recommendations
