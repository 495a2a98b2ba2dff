{#-
  The type of the `dataset` column that every recommendation model carries:
  served (all data) or train (before var evaluation_cutoff). An ENUM is one
  byte per row and is hashed and compared as an integer: with a VARCHAR key the
  joins and aggregates on (dataset, user_id, ...) of int_recommendations took
  twice as long (500k ratings: 36 s against 17 s). Filters such as
  `dataset = 'served'` work as on text.
-#}
{% macro recs_dataset_type() -%}
    enum('served', 'train')
{%- endmacro %}
