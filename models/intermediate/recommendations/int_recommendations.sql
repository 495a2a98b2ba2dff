{#-
  Top-n unseen items per (dataset, user) from four recommenders, as one long table
  (dataset, user_id, recommender, recommendation_rank, item_id, score, predicted_rating).
  `served`: every user, n = n_recommendations (rpt_recommendations); `train`: the
  users the offline evaluation scores, n = evaluation_k, from data before the
  cutoff (rpt_recommendation_evaluation).

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
  - item_cooccurrence: SAR item-item; Jaccard of the item pair's user sets
    (int_item_similarity), score(u, j) = sum_i a(u, i) * jaccard(i, j) over u's items i.

  "Seen" means any interaction in the dataset's affinity (rated, viewed or
  bought): never recommended. Ties (after rounding away float noise): score desc,
  then support (knn: sum of |sim|; 0 for the others), then item_id ascending.

  Every list depends on one user's rows and on global tables (similarity, item
  popularity, item similarity), so insert_by_bucket builds the table in passes: the
  served dataset, then the train dataset, each in n user-hash buckets
  (recs_recommendation_plan picks n from the candidate rows). A pass holds 1/n of one
  dataset's candidates: at scale 1 all of them at once ran out of a 2 GB memory limit.
-#}
{{ config(materialized='insert_by_bucket', bucket_datasets=['served', 'train'], retrain_when_inputs_change=true) }}
-- The watermark hooks (dbt_project.yml) read: depends_on: {{ ref('stg_shop__ingest_audit') }}

{%- set longest_list = [var('n_recommendations') | int, var('evaluation_k') | int] | max -%}
{#- Logs the candidate rows and picks the number of user-hash buckets per dataset. -#}
{%- set n_buckets = recs_recommendation_plan(
    ref('int_user_similarity'), ref('int_ratings__centred'), ref('int_user_item_affinity'), ref('int_item_similarity')
) %}

with

similarity as (

    -- Both engines write dataset as text (a Python model's Arrow output cannot carry the ENUM).
    select
        cast(dataset as {{ recs_dataset_type() }}) as dataset,
        user_id,
        neighbour_id,
        similarity
    from {{ ref('int_user_similarity') }}
    where dataset = '__DATASET__' and {{ user_bucket_filter('user_id', n_buckets) }}

),

centred_ratings as (

    select
        dataset,
        user_id,
        item_id,
        centred_rating
    from {{ ref('int_ratings__centred') }}
    where dataset = '__DATASET__'

),

rating_stats as (

    select
        dataset,
        user_id,
        mean_rating
    from {{ ref('int_users__rating_stats') }}
    where dataset = '__DATASET__'

),

affinity as (

    select
        dataset,
        user_id,
        item_id,
        affinity
    from {{ ref('int_user_item_affinity') }}
    where dataset = '__DATASET__'

),

item_similarity as (

    select
        dataset,
        item_id,
        other_item_id,
        jaccard
    from {{ ref('int_item_similarity') }}
    where dataset = '__DATASET__'

),

users as (

    select distinct user_id
    from {{ ref('stg_shop__users') }}
    where user_id is not null and {{ user_bucket_filter('user_id', n_buckets) }}

),

evaluation_users as (

    select distinct user_id
    from {{ ref('int_recommendations__test_relevant') }}
    where {{ user_bucket_filter('user_id', n_buckets) }}

),

list_lengths as (

    select
        cast('served' as {{ recs_dataset_type() }}) as dataset,
        {{ var('n_recommendations') | int }} as list_length
    union all
    select
        cast('train' as {{ recs_dataset_type() }}) as dataset,
        {{ var('evaluation_k') | int }} as list_length

),

recipients as (

    -- Served lists go to every user, train lists to the evaluated ones.
    select
        cast('served' as {{ recs_dataset_type() }}) as dataset,
        user_id
    from users
    union all
    select
        cast('train' as {{ recs_dataset_type() }}) as dataset,
        user_id
    from evaluation_users

),

target_users as (

    -- This pass's users.
    select
        dataset,
        user_id
    from recipients
    where dataset = '__DATASET__'

),

target_affinity as (

    -- The target users' items: their co-occurrence inputs and the "seen" set.
    select
        affinity.dataset,
        affinity.user_id,
        affinity.item_id,
        affinity.affinity
    from affinity
    inner join target_users
        on affinity.dataset = target_users.dataset and affinity.user_id = target_users.user_id
    where {{ user_bucket_filter('affinity.user_id', n_buckets) }}

),

-- user_knn ------------------------------------------------------------------

neighbour_ratings as (

    select
        similarity.dataset,
        similarity.user_id,
        centred_ratings.item_id,
        similarity.similarity,
        centred_ratings.centred_rating
    from similarity
    inner join target_users
        on similarity.dataset = target_users.dataset and similarity.user_id = target_users.user_id
    inner join centred_ratings
        on similarity.dataset = centred_ratings.dataset and similarity.neighbour_id = centred_ratings.user_id

),

knn_scores as (

    select
        neighbour_ratings.dataset,
        neighbour_ratings.user_id,
        neighbour_ratings.item_id,
        rating_stats.mean_rating + (
            sum(neighbour_ratings.similarity * neighbour_ratings.centred_rating)
            / sum(abs(neighbour_ratings.similarity))
        ) as predicted_rating,
        sum(abs(neighbour_ratings.similarity)) as support
    from neighbour_ratings
    inner join rating_stats
        on neighbour_ratings.dataset = rating_stats.dataset and neighbour_ratings.user_id = rating_stats.user_id
    group by
        neighbour_ratings.dataset,
        neighbour_ratings.user_id,
        neighbour_ratings.item_id,
        rating_stats.mean_rating

),

-- popularity ----------------------------------------------------------------

item_popularity as (

    select
        dataset,
        item_id,
        count(*) as n_users,
        row_number() over (partition by dataset order by count(*) desc, item_id) as popularity_rank
    from affinity
    group by dataset, item_id

),

seen_counts as (

    select
        target_users.dataset,
        target_users.user_id,
        count(seen.item_id) as n_seen
    from target_users
    left join target_affinity as seen
        on target_users.dataset = seen.dataset and target_users.user_id = seen.user_id
    group by target_users.dataset, target_users.user_id

),

popularity_ranks as (

    -- A user's top n unseen items are among the n + n_seen most popular: one row per
    -- rank to look up (an equi-join; a range join on the rank would pair every user
    -- with every item of the dataset before filtering).
    select
        seen_counts.dataset,
        seen_counts.user_id,
        unnest(range(1, seen_counts.n_seen + list_lengths.list_length + 1)) as popularity_rank
    from seen_counts
    inner join list_lengths on seen_counts.dataset = list_lengths.dataset

),

popularity_scores as (

    select
        popularity_ranks.dataset,
        popularity_ranks.user_id,
        item_popularity.item_id,
        cast(item_popularity.n_users as double) as score,
        cast(0 as double) as support
    from popularity_ranks
    inner join item_popularity
        on popularity_ranks.dataset = item_popularity.dataset
        and popularity_ranks.popularity_rank = item_popularity.popularity_rank

),

-- item_cooccurrence (SAR) -----------------------------------------------------

cooccurrence_scores as (

    select
        target_affinity.dataset,
        target_affinity.user_id,
        item_similarity.other_item_id as item_id,
        sum(target_affinity.affinity * item_similarity.jaccard) as score,
        cast(0 as double) as support
    from target_affinity
    inner join item_similarity
        on target_affinity.dataset = item_similarity.dataset and target_affinity.item_id = item_similarity.item_id
    group by target_affinity.dataset, target_affinity.user_id, item_similarity.other_item_id

),

-- union, drop seen items, rank ----------------------------------------------------

all_scores as (

    select
        dataset,
        'user_knn' as recommender,
        user_id,
        item_id,
        predicted_rating * support as score,
        support,
        predicted_rating
    from knn_scores
    union all
    select
        dataset,
        'user_knn_predicted_rating' as recommender,
        user_id,
        item_id,
        predicted_rating as score,
        support,
        predicted_rating
    from knn_scores
    union all
    select
        dataset,
        'popularity' as recommender,
        user_id,
        item_id,
        score,
        support,
        cast(null as double) as predicted_rating
    from popularity_scores
    union all
    select
        dataset,
        'item_cooccurrence' as recommender,
        user_id,
        item_id,
        score,
        support,
        cast(null as double) as predicted_rating
    from cooccurrence_scores

),

item_orders as (

    -- The top-n key below must grow as the item id falls (ties go to the smaller
    -- id); text ids cannot be negated, so every candidate item is ranked once.
    select
        item_id,
        row_number() over (order by item_id desc) as item_order
    from (
        select item_id from affinity
        union
        select item_id from centred_ratings
    ) as candidate_items

),

unseen as (

    select
        all_scores.*,
        item_orders.item_order
    from all_scores
    inner join item_orders on all_scores.item_id = item_orders.item_id
    anti join target_affinity as seen
        on all_scores.dataset = seen.dataset
        and all_scores.user_id = seen.user_id
        and all_scores.item_id = seen.item_id

),

top_lists as (

    -- A bounded top-n per (dataset, recommender, user): max_by keeps n entries per
    -- group instead of sorting every candidate as a row_number() window would (5x
    -- slower at 8M candidates). The struct key orders like
    -- `order by round(score, 10) desc, round(support, 10) desc, item_id`:
    -- scores equal up to float noise tie, then support, then the smaller item.
    -- It keeps the longer of the two list lengths; the final select cuts each
    -- dataset's lists to its own length (the order is total, so that is the top n).
    select
        dataset,
        recommender,
        user_id,
        max_by(
            {'item_id': item_id, 'score': score, 'predicted_rating': predicted_rating},
            {'score': round(score, 10), 'support': round(support, 10), 'item_order': item_order},
            {{ longest_list }}
        ) as top_items
    from unseen
    group by dataset, recommender, user_id

),

ranked as (

    select
        dataset,
        recommender,
        user_id,
        unnest(top_items) as entry,
        generate_subscripts(top_items, 1) as recommendation_rank
    from top_lists

)

select
    ranked.dataset,
    ranked.user_id,
    cast(ranked.recommender as varchar) as recommender,
    cast(ranked.recommendation_rank as integer) as recommendation_rank,
    ranked.entry.item_id,
    cast(ranked.entry.score as double) as score,
    cast(ranked.entry.predicted_rating as double) as predicted_rating
from ranked
inner join list_lengths on ranked.dataset = list_lengths.dataset
where ranked.recommendation_rank <= list_lengths.list_length
