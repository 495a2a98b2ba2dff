-- The watermark hooks (dbt_project.yml) read: depends_on: {{ ref('stg_shop__ingest_audit') }}
{{ config(materialized='retrained_table') }}
with

similarity as (

    select * from {{ ref('int_user_similarity') }}
    where dataset = 'served'

)

select
    user_id,
    neighbour_id,
    similarity,
    n_co_rated,
    neighbour_rank
from similarity
