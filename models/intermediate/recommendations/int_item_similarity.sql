{#-
  Item-item similarity of the item_cooccurrence recommender (SAR), per dataset:
  the Jaccard index of two items' user sets,
      jaccard(i, j) = |U_i ∩ U_j| / (|U_i| + |U_j| - |U_i ∩ U_j|),
  over each user's `cooccurrence_max_items_per_user` most recent items (which
  bounds the self-join at max_items^2 rows per user), for item pairs with at least
  `cooccurrence_min_users` common users; the `cooccurrence_neighbours_k` most
  similar items per item (ties: the smaller other_item_id).

  Its own table because it is global: every user's co-occurrence scores read it, and
  int_recommendations, built in user buckets, would otherwise rebuild it per bucket.
-#}
{{ config(materialized='retrained_table') }}
-- The watermark hooks (dbt_project.yml) read: depends_on: {{ ref('stg_shop__ingest_audit') }}

{%- set k_items = var('cooccurrence_neighbours_k') | int -%}
{%- set max_items = var('cooccurrence_max_items_per_user') | int -%}
{%- set min_cooccurrence = var('cooccurrence_min_users') | int %}

with

affinity as (

    select
        dataset,
        user_id,
        item_id,
        last_interacted_at
    from {{ ref('int_user_item_affinity') }}

),

recent_user_items as (

    select
        dataset,
        user_id,
        item_id
    from affinity
    qualify
        row_number() over (
            partition by dataset, user_id
            order by last_interacted_at desc, item_id asc
        ) <= {{ max_items }}

),

item_users as (

    select
        dataset,
        item_id,
        count(*) as n_users
    from recent_user_items
    group by dataset, item_id

),

cooccurrence as (

    select
        left_items.dataset,
        left_items.item_id,
        right_items.item_id as other_item_id,
        count(*) as n_users
    from recent_user_items as left_items
    inner join recent_user_items as right_items
        on left_items.dataset = right_items.dataset
        and left_items.user_id = right_items.user_id
        and left_items.item_id <> right_items.item_id
    group by left_items.dataset, left_items.item_id, right_items.item_id
    having count(*) >= {{ min_cooccurrence }}

),

jaccard as (

    select
        cooccurrence.dataset,
        cooccurrence.item_id,
        cooccurrence.other_item_id,
        cooccurrence.n_users as n_common_users,
        cast(cooccurrence.n_users as double)
        / (left_users.n_users + right_users.n_users - cooccurrence.n_users) as jaccard
    from cooccurrence
    inner join item_users as left_users
        on cooccurrence.dataset = left_users.dataset and cooccurrence.item_id = left_users.item_id
    inner join item_users as right_users
        on cooccurrence.dataset = right_users.dataset and cooccurrence.other_item_id = right_users.item_id

)

select
    dataset,
    item_id,
    other_item_id,
    n_common_users,
    jaccard
from jaccard
qualify
    row_number() over (
        partition by dataset, item_id
        order by jaccard desc, other_item_id asc
    ) <= {{ k_items }}
