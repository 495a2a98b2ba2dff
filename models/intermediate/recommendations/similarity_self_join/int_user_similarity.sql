{#-
  The self_join similarity engine (dbt build --vars '{similarity_engine: self_join}'):
  user-user mean-centred cosine (LensKit), top-K positive neighbours per user, in
  plain SQL that any engine runs. The default engine is the exact sparse product in
  ../similarity_sparse/int_user_similarity.py; both give the same table wherever
  the candidate cap below does not bind.

    sim(u, v) = sum_{i in I_uv} d_ui * d_vi / (||d_u|| * ||d_v||)

  1. Candidates. Query users (this bucket) join, on item, a hash sample of at most
     `similarity_candidate_cap` raters per item. Join rows are bounded by
     cap * (ratings of the bucket) instead of sum_i raters_i^2. Each sampled rating
     is weighted by raters_i / sampled_i (Horvitz-Thompson), so the candidate score
     is an unbiased estimate of the similarity (and the weights sum to an
     estimate of the co-rated count, which prunes pairs below min_co_rated); the best
     `similarity_candidates_per_user` candidates per user are kept.
  2. Exact re-scoring. Each candidate pair is scored on all of its co-rated items,
     driving the join from whichever of the two users has fewer ratings.
  When no item has more raters than the cap, step 1 sees every co-rating and the
  result equals the exact top-K (ties broken by the smaller neighbour_id).

  insert_by_bucket builds the table in passes: the served dataset, then the train
  dataset, each in n user-hash buckets. A pass holds one dataset (the import CTEs
  keep only '__DATASET__'), so the steps below work within one dataset.
-#}
{{ config(materialized='insert_by_bucket', bucket_datasets=['served', 'train'], retrain_when_inputs_change=true) }}
-- The watermark hooks (dbt_project.yml) read: depends_on: {{ ref('stg_shop__ingest_audit') }}

{%- set cap = var('similarity_candidate_cap') | int -%}
{%- set per_user = var('similarity_candidates_per_user') | int -%}
{%- set k = var('neighbours_k') | int -%}
{%- set min_co_rated = var('min_co_rated') | int -%}
{%- if cap < 1 or per_user < k or k < 1 or min_co_rated < 1 -%}
    {{ exceptions.raise_compiler_error(
        "int_user_similarity: need similarity_candidate_cap >= 1, neighbours_k >= 1, min_co_rated >= 1 "
        ~ "and similarity_candidates_per_user >= neighbours_k; got cap=" ~ cap ~ ", per_user=" ~ per_user
        ~ ", k=" ~ k ~ ", min_co_rated=" ~ min_co_rated) }}
{%- endif -%}
{#- Logs the join sizes and picks the number of user-hash buckets per dataset. -#}
{%- set n_buckets = recs_similarity_plan(ref('int_ratings__centred')) %}

with

centred_ratings as (

    select
        user_id,
        item_id,
        centred_rating,
        user_norm,
        item_raters,
        rater_sample_rank
    from {{ ref('int_ratings__centred') }}
    where dataset = '__DATASET__'

),

eligible_users as (

    select
        user_id,
        n_ratings,
        centred_norm
    from {{ ref('int_users__rating_stats') }}
    where dataset = '__DATASET__' and is_similarity_eligible

),

query_ratings as (

    select
        user_id,
        item_id,
        centred_rating
    from centred_ratings
    where {{ user_bucket_filter('user_id', n_buckets) }}

),

sampled_raters as (

    select
        user_id,
        item_id,
        cast(item_raters as double) / least(item_raters, {{ cap }}) as inclusion_weight,
        centred_rating / user_norm * inclusion_weight as estimate_weight
    from centred_ratings
    where rater_sample_rank <= {{ cap }}

),

candidate_scores as (

    select
        query_ratings.user_id,
        sampled_raters.user_id as neighbour_id,
        sum(query_ratings.centred_rating * sampled_raters.estimate_weight) as estimated_score
    from query_ratings
    inner join sampled_raters on query_ratings.item_id = sampled_raters.item_id
    where sampled_raters.user_id <> query_ratings.user_id
    group by query_ratings.user_id, sampled_raters.user_id
    -- Estimated co-rated count (exact when no item is capped): pairs that cannot
    -- reach min_co_rated must not take a candidate slot.
    having sum(sampled_raters.inclusion_weight) >= {{ min_co_rated }} - 1e-9

),

candidates as (

    select
        candidate_scores.user_id,
        candidate_scores.neighbour_id,
        -- Walk the shorter of the two rating vectors in the exact pass.
        case
            when query_user.n_ratings <= neighbour.n_ratings then candidate_scores.user_id
            else candidate_scores.neighbour_id
        end as driver_id,
        case
            when query_user.n_ratings <= neighbour.n_ratings then candidate_scores.neighbour_id
            else candidate_scores.user_id
        end as other_id
    from candidate_scores
    inner join eligible_users as query_user on candidate_scores.user_id = query_user.user_id
    inner join eligible_users as neighbour on candidate_scores.neighbour_id = neighbour.user_id
    qualify
        row_number() over (
            partition by candidate_scores.user_id
            order by candidate_scores.estimated_score desc, candidate_scores.neighbour_id asc
        ) <= {{ per_user }}

),

-- Materialized so the optimizer cannot turn the exact pass back into the
-- item self-join: rows here are bounded by candidates x shorter vector.
driver_ratings as materialized (

    select
        candidates.user_id,
        candidates.neighbour_id,
        candidates.other_id,
        centred_ratings.item_id,
        centred_ratings.centred_rating as driver_rating
    from candidates
    inner join centred_ratings on candidates.driver_id = centred_ratings.user_id

),

co_rated as (

    select
        driver_ratings.user_id,
        driver_ratings.neighbour_id,
        sum(driver_ratings.driver_rating * other.centred_rating) as centred_dot,
        count(*) as n_co_rated
    from driver_ratings
    inner join centred_ratings as other
        on driver_ratings.other_id = other.user_id and driver_ratings.item_id = other.item_id
    group by driver_ratings.user_id, driver_ratings.neighbour_id
    having count(*) >= {{ min_co_rated }}

),

scored as (

    select
        co_rated.user_id,
        co_rated.neighbour_id,
        -- Cauchy-Schwarz bounds the cosine by 1; clamp the last-bit rounding excess.
        least(
            1.0,
            greatest(-1.0, co_rated.centred_dot / (query_user.centred_norm * neighbour.centred_norm))
        ) as similarity,
        co_rated.n_co_rated
    from co_rated
    inner join eligible_users as query_user on co_rated.user_id = query_user.user_id
    inner join eligible_users as neighbour on co_rated.neighbour_id = neighbour.user_id

),

ranked as (

    select
        user_id,
        neighbour_id,
        similarity,
        n_co_rated,
        -- Similarities equal up to float noise (1e-12) tie, and the smaller id wins:
        -- the same sum in another order must not reorder neighbours.
        row_number() over (
            partition by user_id order by round(similarity, 12) desc, neighbour_id
        ) as neighbour_rank
    from scored
    -- Positive beyond float noise: a dot product that is 0 in exact arithmetic
    -- can come out as +-1e-17 depending on summation order.
    where round(similarity, 12) > 0
    qualify neighbour_rank <= {{ k }}

)

select
    cast('__DATASET__' as varchar) as dataset,
    user_id,
    neighbour_id,
    cast(similarity as double) as similarity,
    cast(n_co_rated as integer) as n_co_rated,
    cast(neighbour_rank as integer) as neighbour_rank
from ranked
