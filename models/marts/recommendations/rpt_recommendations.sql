{#- The lists are ranked from the same served rows as rpt_user_similarity and
    fct_user_item_affinity (whose items they never recommend). Depending on both
    marts makes `dbt build --select +rpt_recommendations` rebuild the three
    together, so the published recommendation marts always agree. -#}
-- The watermark hooks (dbt_project.yml) read: depends_on: {{ ref('stg_shop__ingest_audit') }}
-- depends_on: {{ ref('rpt_user_similarity') }}
-- depends_on: {{ ref('fct_user_item_affinity') }}
with

recommendations as (

    select * from {{ ref('int_recommendations') }}
    where dataset = 'served'

)

select
    user_id,
    recommender,
    recommendation_rank,
    item_id,
    score,
    predicted_rating,
    -- Every ingested batch with commit_seq <= this is in the lists (docs/incremental.md).
    cast({{ window_horizon() }} as bigint) as trained_through_commit_seq
from recommendations
