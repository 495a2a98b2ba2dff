{#-
  SAR-style user-item affinity: every interaction adds its event-type weight,
  decayed by its age relative to the reference time,

    a(u, i) = sum_e w_type(e) * s(e) * 2 ^ (-(t_ref - t_e) / half_life),

  with s(e) = rating / 5 for ratings (so a 5-star rating counts fully) and 1
  otherwise. Ratings contribute the current rating only, so a revision does not
  count twice. t_ref is `before` when given (the evaluation cutoff), else the
  latest interaction in the data, so the table does not change with the wall clock.
-#}
{% macro recs_user_item_affinity(page_views, purchases, current_ratings, before=none) %}
    {%- set weights = var('affinity_event_weights') -%}
    {%- set half_life = var('affinity_half_life_days') | float -%}
    {%- if half_life <= 0 -%}
        {{ exceptions.raise_compiler_error("affinity_half_life_days must be positive, got " ~ half_life) }}
    {%- endif %}
    with

    views as (

        select user_id, item_id, viewed_at as interacted_at
        from {{ page_views }}
        where user_id is not null
        {% if before is not none %} and viewed_at < cast('{{ before }}' as timestamp) {% endif %}

    ),

    purchases as (

        select user_id, item_id, purchased_at as interacted_at
        from {{ purchases }}
        {% if before is not none %} where purchased_at < cast('{{ before }}' as timestamp) {% endif %}

    ),

    ratings as (

        select user_id, item_id, rated_at as interacted_at, rating
        from {{ current_ratings }}

    ),

    events as (

        select user_id, item_id, interacted_at, 'page_view' as event_type,
            cast({{ weights['page_view'] }} as double) as weight, cast(null as smallint) as rating
        from views
        union all
        select user_id, item_id, interacted_at, 'purchase',
            cast({{ weights['purchase'] }} as double), cast(null as smallint)
        from purchases
        union all
        select user_id, item_id, interacted_at, 'rating',
            {{ weights['rating'] }} * rating / 5.0, rating
        from ratings

    ),

    reference_time as (

        {% if before is not none %}
        select cast('{{ before }}' as timestamp) as t_ref
        {% else %}
        select max(interacted_at) as t_ref from events
        {% endif %}

    ),

    decayed as (

        select
            events.*,
            events.weight * pow(
                2.0,
                -(epoch(reference_time.t_ref) - epoch(events.interacted_at)) / ({{ half_life }} * 86400.0)
            ) as decayed_weight
        from events
        cross join reference_time

    )

    select
        cast(user_id as bigint) as user_id,
        cast(item_id as bigint) as item_id,
        cast(sum(decayed_weight) as double) as affinity,
        cast(count(*) filter (where event_type = 'page_view') as integer) as n_views,
        cast(count(*) filter (where event_type = 'purchase') as integer) as n_purchases,
        cast(max(rating) as smallint) as current_rating,
        min(interacted_at) as first_interacted_at,
        max(interacted_at) as last_interacted_at
    from decayed
    group by user_id, item_id
{% endmacro %}
