{#- Held-out truth of the offline evaluation: per user, the items they engaged with
    positively on or after var evaluation_cutoff (a view, a purchase, or a rating of
    at least evaluation_min_relevant_rating; a purchase is a sale line,
    as in int_user_item_affinity) and had not interacted with before it.
    Only users with training interactions (dataset `train`) are evaluated, so every
    recommender has history to work from. -#}
{{ config(materialized='retrained_table') }}
-- The watermark hooks (dbt_project.yml) read: depends_on: {{ ref('stg_shop__ingest_audit') }}

with

page_views as (

    select
        user_id,
        item_id
    from {{ ref('stg_shop__page_views') }}
    where user_id is not null and viewed_at >= cast('{{ var("evaluation_cutoff") }}' as timestamp)

),

purchases as (

    select
        user_id,
        item_id
    from {{ ref('stg_shop__order_lines') }}
    where line_type = 'sale' and user_id is not null
        and ordered_at >= cast('{{ var("evaluation_cutoff") }}' as timestamp)

),

ratings as (

    select
        user_id,
        item_id
    from {{ ref('stg_shop__ratings') }}
    where rated_at >= cast('{{ var("evaluation_cutoff") }}' as timestamp)
        and rating >= {{ var('evaluation_min_relevant_rating') }}

),

train_affinity as (

    select
        user_id,
        item_id
    from {{ ref('int_user_item_affinity') }}
    where dataset = 'train'

),

test_events as (

    select * from page_views
    union
    select * from purchases
    union
    select * from ratings

),

relevant as (

    select
        test_events.user_id,
        test_events.item_id
    from test_events
    semi join train_affinity on test_events.user_id = train_affinity.user_id
    anti join train_affinity as seen
        on test_events.user_id = seen.user_id and test_events.item_id = seen.item_id

)

select
    user_id,
    item_id
from relevant
