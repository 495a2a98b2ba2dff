{#- The ingest batch a lake row came from, parsed from its file name
    (<source>/event_date=<date>/batch_<batch_id>_<n>.parquet). -#}
{% macro lake_batch_id(filename_column) -%}
    regexp_extract({{ filename_column }}, 'batch_(.+)_[0-9]+\.parquet$', 1)
{%- endmacro %}

{#- An event is late when its date falls before the start of the batch that
    delivered it. Batch ids that are not dates never mark rows late. -#}
{% macro is_late_arriving(event_date_column, batch_id_column) -%}
    coalesce({{ event_date_column }} < try_cast({{ batch_id_column }} as date), false)
{%- endmacro %}
