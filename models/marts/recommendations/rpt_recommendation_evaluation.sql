-- The watermark hooks (dbt_project.yml) read: depends_on: {{ ref('stg_shop__ingest_audit') }}
-- Offline evaluation on a time-based holdout: recommenders trained on interactions
-- before evaluation_cutoff, scored against what each user engaged with after it.
-- Every metric averages over all evaluated users; a user a recommender has no list
-- for counts as zero, so a recommender cannot look better by abstaining.
with

recommendations as (

    select * from {{ ref('int_recommendations') }}
    where dataset = 'train'

),

relevant as (

    select * from {{ ref('int_recommendations__test_relevant') }}

),

catalogue as (

    select count(*) as n_items from {{ ref('stg_shop__items') }}

),

recommenders as (

    select unnest(['user_knn', 'user_knn_predicted_rating', 'popularity', 'item_cooccurrence']) as recommender

),

evaluation_users as (

    select
        user_id,
        count(*) as n_relevant
    from relevant
    group by user_id

),

user_recommender as (

    select
        recommenders.recommender,
        evaluation_users.user_id,
        evaluation_users.n_relevant
    from recommenders
    cross join evaluation_users

),

hits as (

    select
        recommendations.recommender,
        recommendations.user_id,
        recommendations.recommendation_rank,
        -- precision at this hit's rank, for average precision
        cast(count(*) over (
            partition by recommendations.recommender, recommendations.user_id
            order by recommendations.recommendation_rank
        ) as double) / recommendations.recommendation_rank as precision_at_rank
    from recommendations
    inner join relevant
        on recommendations.user_id = relevant.user_id and recommendations.item_id = relevant.item_id

),

ideal as (

    -- Ideal DCG: all of the first min(n_relevant, k) positions are hits.
    select
        evaluation_users.user_id,
        sum(1.0 / log2(positions.hit_position + 1)) as idcg
    from evaluation_users
    inner join range(1, {{ var('evaluation_k') }} + 1) as positions (hit_position)
        on evaluation_users.n_relevant >= positions.hit_position
    group by evaluation_users.user_id

),

per_user as (

    select
        user_recommender.recommender,
        user_recommender.user_id,
        user_recommender.n_relevant,
        count(hits.recommendation_rank) as n_hits,
        coalesce(sum(1.0 / log2(hits.recommendation_rank + 1)), 0) as dcg,
        coalesce(sum(hits.precision_at_rank), 0) as precision_sum
    from user_recommender
    left join hits
        on user_recommender.recommender = hits.recommender and user_recommender.user_id = hits.user_id
    group by user_recommender.recommender, user_recommender.user_id, user_recommender.n_relevant

),

list_stats as (

    select
        recommender,
        count(distinct user_id) filter (where recommendation_rank = {{ var('evaluation_k') }}) as users_with_full_list,
        count(distinct item_id) as distinct_items
    from recommendations
    group by recommender

),

metrics as (

    select
        per_user.recommender,
        count(*) as n_users,
        avg(per_user.n_hits / cast({{ var('evaluation_k') }} as double)) as precision_at_k,
        avg(per_user.n_hits / cast(per_user.n_relevant as double)) as recall_at_k,
        avg(per_user.dcg / ideal.idcg) as ndcg_at_k,
        avg(per_user.precision_sum / least(per_user.n_relevant, {{ var('evaluation_k') }})) as map_at_k
    from per_user
    inner join ideal on per_user.user_id = ideal.user_id
    group by per_user.recommender

)

select
    cast(metrics.recommender as varchar) as recommender,
    cast({{ var('evaluation_k') }} as integer) as k,
    cast('{{ var("evaluation_cutoff") }}' as timestamp) as cutoff,
    cast(metrics.n_users as bigint) as n_users,
    cast(metrics.precision_at_k as double) as precision_at_k,
    cast(metrics.recall_at_k as double) as recall_at_k,
    cast(metrics.ndcg_at_k as double) as ndcg_at_k,
    cast(metrics.map_at_k as double) as map_at_k,
    cast(coalesce(list_stats.distinct_items, 0) as double) / catalogue.n_items as catalogue_coverage,
    cast(coalesce(list_stats.users_with_full_list, 0) as double) / metrics.n_users as user_coverage,
    -- Every ingested batch with commit_seq <= this is in the evaluation (docs/incremental.md).
    cast({{ window_horizon() }} as bigint) as trained_through_commit_seq
from metrics
cross join catalogue
left join list_stats on metrics.recommender = list_stats.recommender
