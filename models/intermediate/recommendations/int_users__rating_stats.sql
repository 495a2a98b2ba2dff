{#- Per dataset and user: number of current ratings, mean, and the norm of the
    mean-centred rating vector. -#}
{{ config(materialized='retrained_table') }}
-- The watermark hooks (dbt_project.yml) read: depends_on: {{ ref('stg_shop__ingest_audit') }}

with

current_ratings as (

    select
        dataset,
        user_id,
        cast(rating as double) as rating
    from {{ ref('int_ratings__current') }}

),

means as (

    select
        dataset,
        user_id,
        count(*) as n_ratings,
        avg(rating) as mean_rating
    from current_ratings
    group by dataset, user_id

),

norms as (

    -- Two passes (mean, then squared deviations) rather than sum(r^2) - n*mean^2,
    -- which cancels catastrophically and can go slightly negative for constant users.
    select
        current_ratings.dataset,
        current_ratings.user_id,
        sqrt(sum((current_ratings.rating - means.mean_rating) ^ 2)) as centred_norm
    from current_ratings
    inner join means
        on current_ratings.dataset = means.dataset and current_ratings.user_id = means.user_id
    group by current_ratings.dataset, current_ratings.user_id

)

select
    means.dataset,
    means.user_id,
    means.n_ratings,
    means.mean_rating,
    norms.centred_norm,
    -- A single rating or a constant vector has norm 0: cosine is undefined, so the
    -- user gets no neighbours instead of a division by zero.
    (means.n_ratings >= 2 and norms.centred_norm > 0) as is_similarity_eligible
from means
inner join norms on means.dataset = norms.dataset and means.user_id = norms.user_id
