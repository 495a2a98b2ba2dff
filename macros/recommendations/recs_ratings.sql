{#- Rating-side building blocks shared by the served models and the evaluation's training copies. -#}

{#- The latest rating per (user, item) among `ratings`, optionally only those before `before`. -#}
{% macro recs_latest_ratings(ratings, before=none) %}
    select
        rating_id,
        user_id,
        item_id,
        rating,
        rated_at
    from {{ ratings }}
    {% if before is not none %}
    where rated_at < cast('{{ before }}' as timestamp)
    {% endif %}
    -- A revision is a later rating of the same item by the same user: the latest wins,
    -- and rating_id breaks exact timestamp ties so the choice is deterministic.
    qualify row_number() over (
        partition by user_id, item_id order by rated_at desc, rating_id desc
    ) = 1
{% endmacro %}


{#- Per user: number of current ratings, mean, and the norm of the mean-centred vector. -#}
{% macro recs_user_rating_stats(current_ratings) %}
    with

    ratings as (

        select user_id, cast(rating as double) as rating from {{ current_ratings }}

    ),

    means as (

        select user_id, count(*) as n_ratings, avg(rating) as mean_rating
        from ratings
        group by user_id

    ),

    norms as (

        -- Two passes (mean, then squared deviations) rather than sum(r^2) - n*mean^2,
        -- which cancels catastrophically and can go slightly negative for constant users.
        select ratings.user_id, sqrt(sum((ratings.rating - means.mean_rating) ^ 2)) as centred_norm
        from ratings
        inner join means on ratings.user_id = means.user_id
        group by ratings.user_id

    )

    select
        means.user_id,
        means.n_ratings,
        means.mean_rating,
        norms.centred_norm,
        -- A single rating or a constant vector has norm 0: cosine is undefined, so the
        -- user gets no neighbours instead of a division by zero.
        (means.n_ratings >= 2 and norms.centred_norm > 0) as is_similarity_eligible
    from means
    inner join norms on means.user_id = norms.user_id
{% endmacro %}


{#- Current ratings of similarity-eligible users, mean-centred, with each item's deterministic rater sample order. -#}
{% macro recs_centred_ratings(current_ratings, rating_stats) %}
    with

    ratings as (

        select user_id, item_id, rating from {{ current_ratings }}

    ),

    stats as (

        select user_id, n_ratings, mean_rating, centred_norm
        from {{ rating_stats }}
        where is_similarity_eligible

    )

    select
        ratings.user_id,
        ratings.item_id,
        ratings.rating,
        cast(ratings.rating as double) - stats.mean_rating as centred_rating,
        stats.centred_norm as user_norm,
        stats.n_ratings as user_ratings,
        count(*) over (partition by ratings.item_id) as item_raters,
        -- hash(user, item) gives every item its own pseudo-random rater order, stable
        -- across runs; user_id settles the (rare) hash collisions.
        row_number() over (
            partition by ratings.item_id
            order by hash(ratings.user_id, ratings.item_id), ratings.user_id
        ) as rater_sample_rank
    from ratings
    inner join stats on ratings.user_id = stats.user_id
{% endmacro %}
