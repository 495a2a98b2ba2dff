{#-
  Top-n unseen items per user from four recommenders (two user-kNN rankings,
  popularity, SAR item-item), as one long relation
  (user_id, recommender, recommendation_rank, item_id, score, predicted_rating):

  - user_knn_predicted_rating: ranks by the predicted rating
      predicted(u, i) = mu_u + sum_v sim(u,v) (r_vi - mu_v) / sum_v |sim(u,v)|,
    v over u's top-K neighbours *who rated i* (standard kNN: the denominator
    normalises over the neighbours that contribute, so the prediction stays on
    the rating scale). Only items at least one neighbour rated get a score.
  - user_knn: the same prediction weighted by its evidence,
      score(u, i) = predicted(u, i) * sum_v |sim(u,v)|
                  = sum_v |sim(u,v)| mu_u + sum_v sim(u,v) (r_vi - mu_v),
    i.e. the similarity-weighted sum of the neighbours' ratings re-based on u's
    mean. The normalised prediction alone ranks an item one weak neighbour rated
    5 above an item ten close neighbours rated 4.5; for top-n ranking that is
    much worse than popularity (see docs/recommendations.md), so this is the
    served user-kNN list and the pure prediction is kept for comparison.
  - popularity: items with the most distinct interacting users.
  - item_cooccurrence: SAR item-item; Jaccard of the item pair's user sets,
    score(u, j) = sum_i a(u, i) * jaccard(i, j) over u's items i.

  "Seen" means any interaction in `affinity` (rated, viewed or bought): never
  recommended. Ties (after rounding away float noise): score desc, then support
  (knn: sum of |sim|; 0 for the others), then item_id ascending.
-#}
{% macro recs_top_n(similarity, centred_ratings, rating_stats, affinity, target_users, n) %}
    {%- set k_items = var('cooccurrence_neighbours_k') | int -%}
    {%- set max_items = var('cooccurrence_max_items_per_user') | int -%}
    {%- set min_cooccurrence = var('cooccurrence_min_users') | int %}
    with

    target_users as (

        select distinct user_id from {{ target_users }}

    ),

    affinity as (

        select user_id, item_id, affinity, last_interacted_at from {{ affinity }}

    ),

    seen as (

        select affinity.user_id, affinity.item_id
        from affinity
        inner join target_users on affinity.user_id = target_users.user_id

    ),

    -- user_knn ------------------------------------------------------------------

    neighbour_ratings as (

        select
            similarity.user_id,
            centred.item_id,
            similarity.similarity,
            centred.centred_rating
        from {{ similarity }} as similarity
        inner join target_users on similarity.user_id = target_users.user_id
        inner join {{ centred_ratings }} as centred on similarity.neighbour_id = centred.user_id

    ),

    knn_scores as (

        select
            neighbour_ratings.user_id,
            neighbour_ratings.item_id,
            stats.mean_rating
                + sum(neighbour_ratings.similarity * neighbour_ratings.centred_rating)
                / sum(abs(neighbour_ratings.similarity)) as predicted_rating,
            sum(abs(neighbour_ratings.similarity)) as support,
            count(*) as n_neighbours
        from neighbour_ratings
        inner join {{ rating_stats }} as stats on neighbour_ratings.user_id = stats.user_id
        group by neighbour_ratings.user_id, neighbour_ratings.item_id, stats.mean_rating

    ),

    -- popularity ----------------------------------------------------------------

    item_popularity as (

        select
            item_id,
            count(*) as n_users,
            row_number() over (order by count(*) desc, item_id) as popularity_rank
        from affinity
        group by item_id

    ),

    seen_counts as (

        select target_users.user_id, count(seen.item_id) as n_seen
        from target_users
        left join seen on target_users.user_id = seen.user_id
        group by target_users.user_id

    ),

    popularity_scores as (

        -- A user's top n unseen items are among the n + n_seen most popular.
        select seen_counts.user_id, item_popularity.item_id, cast(item_popularity.n_users as double) as score,
            cast(0 as double) as support
        from seen_counts
        inner join item_popularity on item_popularity.popularity_rank <= seen_counts.n_seen + {{ n }}

    ),

    -- item_cooccurrence (SAR) -----------------------------------------------------

    recent_user_items as (

        -- Bounds the co-occurrence self-join at max_items^2 rows per user.
        select user_id, item_id
        from affinity
        qualify row_number() over (
            partition by user_id order by last_interacted_at desc, item_id
        ) <= {{ max_items }}

    ),

    item_users as (

        select item_id, count(*) as n_users from recent_user_items group by item_id

    ),

    cooccurrence as (

        select left_items.item_id, right_items.item_id as other_item_id, count(*) as n_users
        from recent_user_items as left_items
        inner join recent_user_items as right_items
            on left_items.user_id = right_items.user_id and left_items.item_id <> right_items.item_id
        group by left_items.item_id, right_items.item_id
        having count(*) >= {{ min_cooccurrence }}

    ),

    item_similarity as (

        select
            cooccurrence.item_id,
            cooccurrence.other_item_id,
            cast(cooccurrence.n_users as double)
                / (left_users.n_users + right_users.n_users - cooccurrence.n_users) as jaccard
        from cooccurrence
        inner join item_users as left_users on cooccurrence.item_id = left_users.item_id
        inner join item_users as right_users on cooccurrence.other_item_id = right_users.item_id
        qualify row_number() over (
            partition by cooccurrence.item_id order by jaccard desc, cooccurrence.other_item_id
        ) <= {{ k_items }}

    ),

    cooccurrence_scores as (

        select
            seen_affinity.user_id,
            item_similarity.other_item_id as item_id,
            sum(seen_affinity.affinity * item_similarity.jaccard) as score,
            cast(0 as double) as support
        from affinity as seen_affinity
        inner join target_users on seen_affinity.user_id = target_users.user_id
        inner join item_similarity on seen_affinity.item_id = item_similarity.item_id
        group by seen_affinity.user_id, item_similarity.other_item_id

    ),

    -- union, drop seen items, rank ----------------------------------------------------

    all_scores as (

        select 'user_knn' as recommender, user_id, item_id, predicted_rating * support as score,
            support, predicted_rating
        from knn_scores
        union all
        select 'user_knn_predicted_rating', user_id, item_id, predicted_rating, support, predicted_rating
        from knn_scores
        union all
        select 'popularity', user_id, item_id, score, support, cast(null as double) from popularity_scores
        union all
        select 'item_cooccurrence', user_id, item_id, score, support, cast(null as double) from cooccurrence_scores

    ),

    unseen as (

        select all_scores.*
        from all_scores
        anti join seen on all_scores.user_id = seen.user_id and all_scores.item_id = seen.item_id

    ),

    top_lists as (

        -- A bounded top-n per (recommender, user): max_by keeps n entries per group
        -- instead of sorting every candidate as a row_number() window would (5x
        -- slower at 8M candidates). The struct key orders like
        -- `order by round(score, 10) desc, round(support, 10) desc, item_id`:
        -- scores equal up to float noise tie, then support, then the smaller item.
        select
            recommender,
            user_id,
            max_by(
                {'item_id': item_id, 'score': score, 'predicted_rating': predicted_rating},
                {'score': round(score, 10), 'support': round(support, 10), 'item_order': -item_id},
                {{ n }}
            ) as top_items
        from unseen
        group by recommender, user_id

    ),

    ranked as (

        select
            recommender,
            user_id,
            unnest(top_items) as entry,
            generate_subscripts(top_items, 1) as recommendation_rank
        from top_lists

    )

    select
        cast(user_id as bigint) as user_id,
        cast(recommender as varchar) as recommender,
        cast(recommendation_rank as integer) as recommendation_rank,
        cast(entry.item_id as bigint) as item_id,
        cast(entry.score as double) as score,
        cast(entry.predicted_rating as double) as predicted_rating
    from ranked
{% endmacro %}
