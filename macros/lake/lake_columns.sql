{#- The ingest batch a lake row came from, parsed from its file name
    (<source>/event_date=<date>/batch_<batch_id>_<n>.parquet). -#}
{% macro lake_batch_id(filename_column) -%}
    regexp_extract({{ filename_column }}, 'batch_(.+)_[0-9]+[.]parquet$', 1)
{%- endmacro %}

{#- The batch of an entity snapshot file (<source>/batch_<batch_id>.parquet). `[.]`, not `\.`:
    Spark's string literals would unescape the backslash. -#}
{% macro lake_snapshot_batch_id(filename_column) -%}
    regexp_extract({{ filename_column }}, 'batch_([^/]+)[.]parquet$', 1)
{%- endmacro %}

{#- Every column of the current select's source but `columns` (DuckDB `* exclude`, Spark `* except`):
    what an accepted contract version adds passes through staging unchanged. -#}
{% macro star_except(columns) -%}
    {{ return(adapter.dispatch('star_except', 'shop_analytics')(columns)) }}
{%- endmacro %}

{% macro default__star_except(columns) -%}
    * exclude ({{ columns | join(', ') }})
{%- endmacro %}

{% macro spark__star_except(columns) -%}
    * except ({{ columns | join(', ') }})
{%- endmacro %}

{#- An event is late when its date falls before the start of the batch that
    delivered it. Batch ids that are not dates never mark rows late. -#}
{% macro is_late_arriving(event_date_column, batch_id_column) -%}
    coalesce({{ event_date_column }} < try_cast({{ batch_id_column }} as date), false)
{%- endmacro %}

{#- The rows of `renamed_sql` (a select over `lake`, with event_date and
    batch_id), deduplicated only when var('deduplicate_lake_events') is true.

    By default the lake is trusted to hold each event id once: ingest, its
    only writer, quarantines replays (`duplicate_event_id`,
    `duplicate_in_lake`), and the staging yml tests `unique` on the key, so a
    lake written some other way fails `dbt build` instead of double counting.
    Deduplicating again on every read costs a key aggregate over the whole
    lake: at 100M page views that was more than half of each mart's time.

    With the var set (a lake written around ingest, e.g. a migration), staging
    keeps one row per (event_date, `key`): the one from the earliest batch. A
    replayed event repeats its timestamp, so duplicates share event_date. The
    ordered dedup runs only on the keys that occur more than once; every other
    row passes through a join against that small key set. A window or arg_min
    over every row instead costs a sort or a per-group copy of each row of the
    lake: at 100M page views that took minutes and ran out of memory at a 2GB
    memory_limit.

    The lake is read in subqueries, not in a CTE referenced three times: DuckDB
    materializes such a CTE (a stored view loses a NOT MATERIALIZED hint), that
    is, the whole lake. A date filter on the view reaches every scan (partition
    pruning): DuckDB pushes it through the event_date equality of a left or
    inner join into the key aggregate as well, not into the right side of an
    anti or semi join. `is not distinct from` deduplicates NULL keys per date
    as a window partition would.

    `keys` maps each key column to its staged type: one event id, or a
    composite key such as order lines' (order_id, line_number). -#}
{% macro deduplicate_events(renamed_sql, lake, keys) -%}
    {%- set key_casts = [] -%}
    {%- for key, type in keys.items() -%}
        {%- do key_casts.append('cast(' ~ key ~ ' as ' ~ type ~ ') as ' ~ key) -%}
    {%- endfor -%}
    {%- if not var('deduplicate_lake_events', false) -%}
        select * from ({{ renamed_sql }}) as trusted_unique
    {%- else -%}
        {%- set replayed_keys -%}
            select
                cast(event_date as date) as event_date,
                {{ key_casts | join(', ') }}
            from {{ lake }}
            group by all
            having count(*) > 1
        {%- endset -%}
        select single_copies.*
        from ({{ renamed_sql }}) as single_copies
        left join ({{ replayed_keys }}) as replayed_keys
            on single_copies.event_date = replayed_keys.event_date
            {% for key in keys %}and single_copies.{{ key }} is not distinct from replayed_keys.{{ key }} {% endfor %}
        where replayed_keys.event_date is null

        union all

        select * from (
            select replays.*
            from ({{ renamed_sql }}) as replays
            inner join ({{ replayed_keys }}) as replayed_keys
                on replays.event_date = replayed_keys.event_date
                {% for key in keys %}and replays.{{ key }} is not distinct from replayed_keys.{{ key }} {% endfor %}
            qualify
                row_number() over (
                    partition by replays.event_date{% for key in keys %}, replays.{{ key }}{% endfor %}
                    order by replays.batch_id
                ) = 1
        )
    {%- endif -%}
{%- endmacro %}
