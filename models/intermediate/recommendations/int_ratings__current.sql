{#- The current rating per (dataset, user, item). Every recommendation model carries
    two datasets: `served` (all ratings: what rpt_* show) and `train` (ratings made
    before var evaluation_cutoff: what rpt_recommendation_evaluation trains on; a
    revision after the cutoff is test data). Table: read by three models. -#}
{{ config(materialized='retrained_table') }}
-- The watermark hooks (dbt_project.yml) read: depends_on: {{ ref('stg_shop__ingest_audit') }}

with

ratings as (

    select
        rating_id,
        user_id,
        item_id,
        rating,
        rated_at
    from {{ ref('stg_shop__ratings') }}

),

datasets as (

    select
        cast('served' as {{ recs_dataset_type() }}) as dataset,
        *
    from ratings
    union all
    select
        cast('train' as {{ recs_dataset_type() }}) as dataset,
        *
    from ratings
    where rated_at < cast('{{ var("evaluation_cutoff") }}' as timestamp)

),

current_ratings as (

    select
        dataset,
        rating_id,
        user_id,
        item_id,
        rating,
        rated_at
    from datasets
    -- A revision is a later rating of the same item by the same user: the latest wins,
    -- and rating_id breaks exact timestamp ties so the choice is deterministic.
    qualify
        row_number() over (
            partition by dataset, user_id, item_id
            order by rated_at desc, rating_id desc
        ) = 1

)

select * from current_ratings
