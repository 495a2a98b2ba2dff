-- The watermark hooks (dbt_project.yml) read: depends_on: {{ ref('stg_shop__ingest_audit') }}
{{ config(materialized='retrained_table') }}
with

affinity as (

    select * from {{ ref('int_user_item_affinity') }}
    where dataset = 'served'

)

select
    user_id,
    item_id,
    affinity,
    n_views,
    n_purchases,
    current_rating,
    first_interacted_at,
    last_interacted_at
from affinity
