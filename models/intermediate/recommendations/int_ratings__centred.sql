{#- Current ratings of similarity-eligible users, centred on the user's mean, per
    dataset: the input of both similarity engines. -#}
{{ config(materialized='retrained_table') }}
-- The watermark hooks (dbt_project.yml) read: depends_on: {{ ref('stg_shop__ingest_audit') }}

with

current_ratings as (

    select
        dataset,
        user_id,
        item_id,
        rating
    from {{ ref('int_ratings__current') }}

),

eligible_users as (

    select
        dataset,
        user_id,
        n_ratings,
        mean_rating,
        centred_norm
    from {{ ref('int_users__rating_stats') }}
    where is_similarity_eligible

),

centred as (

    select
        current_ratings.dataset,
        current_ratings.user_id,
        current_ratings.item_id,
        current_ratings.rating,
        cast(current_ratings.rating as double) - eligible_users.mean_rating as centred_rating,
        eligible_users.centred_norm as user_norm,
        eligible_users.n_ratings as user_ratings,
        count(*) over (partition by current_ratings.dataset, current_ratings.item_id) as item_raters,
        -- hash(user, item) gives every item its own pseudo-random rater order, stable
        -- across runs; user_id settles the (rare) hash collisions. The self_join
        -- engine samples raters in this order.
        row_number() over (
            partition by current_ratings.dataset, current_ratings.item_id
            order by hash(current_ratings.user_id, current_ratings.item_id), current_ratings.user_id
        ) as rater_sample_rank
    from current_ratings
    inner join eligible_users
        on current_ratings.dataset = eligible_users.dataset and current_ratings.user_id = eligible_users.user_id

)

select * from centred
