{#-
  User-user mean-centred cosine (LensKit), top-K positive neighbours per user, for
  the users of one hash bucket (insert_by_bucket runs it once per bucket).

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
-#}
{% macro recs_user_similarity(centred_ratings, rating_stats, n_buckets) %}
    {%- set cap = var('similarity_candidate_cap') | int -%}
    {%- set per_user = var('similarity_candidates_per_user') | int -%}
    {%- set k = var('neighbours_k') | int -%}
    {%- set min_co_rated = var('min_co_rated') | int -%}
    {%- if cap < 1 or per_user < k or k < 1 or min_co_rated < 1 -%}
        {{ exceptions.raise_compiler_error(
            "recs_user_similarity: need similarity_candidate_cap >= 1, neighbours_k >= 1, min_co_rated >= 1 "
            ~ "and similarity_candidates_per_user >= neighbours_k; got cap=" ~ cap ~ ", per_user=" ~ per_user
            ~ ", k=" ~ k ~ ", min_co_rated=" ~ min_co_rated) }}
    {%- endif %}
    with

    centred as (

        select user_id, item_id, centred_rating, user_norm, user_ratings, item_raters, rater_sample_rank
        from {{ centred_ratings }}

    ),

    users as (

        select user_id, n_ratings, centred_norm
        from {{ rating_stats }}
        where is_similarity_eligible

    ),

    query_ratings as (

        select user_id, item_id, centred_rating
        from centred
        where {{ user_bucket_filter('user_id', n_buckets) }}

    ),

    sampled_raters as (

        select
            user_id,
            item_id,
            cast(item_raters as double) / least(item_raters, {{ cap }}) as inclusion_weight,
            centred_rating / user_norm * inclusion_weight as estimate_weight
        from centred
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
            case when query_user.n_ratings <= neighbour.n_ratings
                then candidate_scores.user_id else candidate_scores.neighbour_id end as driver_id,
            case when query_user.n_ratings <= neighbour.n_ratings
                then candidate_scores.neighbour_id else candidate_scores.user_id end as other_id
        from candidate_scores
        inner join users as query_user on candidate_scores.user_id = query_user.user_id
        inner join users as neighbour on candidate_scores.neighbour_id = neighbour.user_id
        qualify row_number() over (
            partition by candidate_scores.user_id
            order by candidate_scores.estimated_score desc, candidate_scores.neighbour_id
        ) <= {{ per_user }}

    ),

    -- Materialized so the optimizer cannot turn the exact pass back into the
    -- item self-join: rows here are bounded by candidates x shorter vector.
    driver_ratings as materialized (

        select
            candidates.user_id,
            candidates.neighbour_id,
            candidates.other_id,
            centred.item_id,
            centred.centred_rating as driver_rating
        from candidates
        inner join centred on candidates.driver_id = centred.user_id

    ),

    co_rated as (

        select
            driver_ratings.user_id,
            driver_ratings.neighbour_id,
            sum(driver_ratings.driver_rating * other.centred_rating) as centred_dot,
            count(*) as n_co_rated
        from driver_ratings
        inner join centred as other
            on driver_ratings.other_id = other.user_id and driver_ratings.item_id = other.item_id
        group by driver_ratings.user_id, driver_ratings.neighbour_id
        having count(*) >= {{ min_co_rated }}

    ),

    scored as (

        select
            co_rated.user_id,
            co_rated.neighbour_id,
            -- Cauchy-Schwarz bounds the cosine by 1; clamp the last-bit rounding excess.
            least(1.0, greatest(-1.0,
                co_rated.centred_dot / (query_user.centred_norm * neighbour.centred_norm)
            )) as similarity,
            co_rated.n_co_rated
        from co_rated
        inner join users as query_user on co_rated.user_id = query_user.user_id
        inner join users as neighbour on co_rated.neighbour_id = neighbour.user_id

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
        cast(user_id as bigint) as user_id,
        cast(neighbour_id as bigint) as neighbour_id,
        cast(similarity as double) as similarity,
        cast(n_co_rated as integer) as n_co_rated,
        cast(neighbour_rank as integer) as neighbour_rank
    from ranked
{% endmacro %}


{#-
  Plans the similarity build: logs how many join rows the naive self-join would
  make (sum over items of raters^2) and how many the capped candidate join makes
  (sum of raters * min(raters, cap)), and returns the number of user-hash buckets:
  var similarity_buckets, or with 'auto' enough buckets that each holds at most
  similarity_join_rows_per_bucket capped join rows.
-#}
{% macro recs_similarity_plan(centred_ratings) %}
    {%- set setting = var('similarity_buckets') -%}
    {%- if not execute -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set cap = var('similarity_candidate_cap') | int -%}
    {%- set sql -%}
        select
            coalesce(sum(raters * raters), 0) as naive_rows,
            coalesce(sum(raters * least(raters, {{ cap }})), 0) as capped_rows,
            coalesce(sum(raters), 0) as ratings,
            count(*) filter (where raters > {{ cap }}) as capped_items
        from (select item_id, count(*) as raters from {{ centred_ratings }} group by item_id) as per_item
    {%- endset -%}
    {%- set row = run_query(sql).rows[0] -%}
    {%- if setting == 'auto' -%}
        {%- set per_bucket = var('similarity_join_rows_per_bucket') | int -%}
        {%- set n_buckets = [1, ((row[1] | int) + per_bucket - 1) // per_bucket] | max -%}
    {%- else -%}
        {%- set n_buckets = setting | int -%}
    {%- endif -%}
    {%- do log(
        "user similarity on " ~ centred_ratings ~ ": naive self-join sum(raters^2) = "
        ~ "{:,}".format(row[0] | int) ~ " join rows; capped at " ~ cap ~ " raters per item: "
        ~ "{:,}".format(row[1] | int) ~ " (" ~ row[3] ~ " items capped, " ~ "{:,}".format(row[2] | int)
        ~ " ratings); " ~ n_buckets ~ " user-hash bucket(s)", info=True) -%}
    {{ return(n_buckets) }}
{% endmacro %}
