{#-
  SAR-style user-item affinity per dataset: every interaction adds its event-type
  weight, decayed by its age relative to the dataset's reference time,

    a(u, i) = sum_e w_type(e) * s(e) * 2 ^ (-(t_ref - t_e) / half_life),

  with s(e) = rating / 5 for ratings (so a 5-star rating counts fully) and 1
  otherwise. Ratings contribute the dataset's current rating only, so a revision
  does not count twice. `served` counts every interaction, with t_ref the latest
  interaction in the data (so the table does not change with the wall clock);
  `train` counts those before var evaluation_cutoff, decayed to the cutoff.
  Table: read by fct_user_item_affinity, int_recommendations and the evaluation.
-#}
{{ config(materialized='retrained_table') }}
-- The watermark hooks (dbt_project.yml) read: depends_on: {{ ref('stg_shop__ingest_audit') }}

{%- set weights = var('affinity_event_weights') -%}
{%- set half_life = var('affinity_half_life_days') | float -%}
{%- if half_life <= 0 -%}
    {{ exceptions.raise_compiler_error("affinity_half_life_days must be positive, got " ~ half_life) }}
{%- endif %}

with

page_views as (

    select
        user_id,
        item_id,
        viewed_at as interacted_at
    from {{ ref('stg_shop__page_views') }}
    where user_id is not null

),

purchases as (

    -- Every sale line is a purchase event: order lines of contract v2 and the v1
    -- purchases staging migrates into one-line orders. A later cancellation or
    -- return does not remove it (the signal is the choice; netting would also
    -- leak reversals after the evaluation cutoff into the train dataset).
    select
        user_id,
        item_id,
        ordered_at as interacted_at
    from {{ ref('stg_shop__order_lines') }}
    where line_type = 'sale' and user_id is not null

),

current_ratings as (

    select
        dataset,
        user_id,
        item_id,
        rated_at as interacted_at,
        rating
    from {{ ref('int_ratings__current') }}

),

views_and_purchases as (

    select
        user_id,
        item_id,
        interacted_at,
        'page_view' as event_type,
        cast({{ weights['page_view'] }} as double) as weight,
        cast(null as smallint) as rating
    from page_views
    union all
    select
        user_id,
        item_id,
        interacted_at,
        'purchase' as event_type,
        cast({{ weights['purchase'] }} as double) as weight,
        cast(null as smallint) as rating
    from purchases

),

events as (

    select
        cast('served' as {{ recs_dataset_type() }}) as dataset,
        *
    from views_and_purchases
    union all
    select
        cast('train' as {{ recs_dataset_type() }}) as dataset,
        *
    from views_and_purchases
    where interacted_at < cast('{{ var("evaluation_cutoff") }}' as timestamp)
    union all
    -- int_ratings__current is already split by dataset.
    select
        dataset,
        user_id,
        item_id,
        interacted_at,
        'rating' as event_type,
        {{ weights['rating'] }} * rating / 5.0 as weight,
        rating
    from current_ratings

),

reference_times as (

    select
        cast('served' as {{ recs_dataset_type() }}) as dataset,
        max(interacted_at) as t_ref
    from events
    where dataset = 'served'
    union all
    select
        cast('train' as {{ recs_dataset_type() }}) as dataset,
        cast('{{ var("evaluation_cutoff") }}' as timestamp) as t_ref

),

decayed as (

    select
        events.*,
        events.weight * pow(
            2.0,
            -(epoch(reference_times.t_ref) - epoch(events.interacted_at)) / ({{ half_life }} * 86400.0)
        ) as decayed_weight
    from events
    inner join reference_times on events.dataset = reference_times.dataset

)

select
    dataset,
    user_id,
    item_id,
    cast(sum(decayed_weight) as double) as affinity,
    cast(count(*) filter (where event_type = 'page_view') as integer) as n_views,
    cast(count(*) filter (where event_type = 'purchase') as integer) as n_purchases,
    cast(max(rating) as smallint) as current_rating,
    min(interacted_at) as first_interacted_at,
    max(interacted_at) as last_interacted_at
from decayed
group by dataset, user_id, item_id
