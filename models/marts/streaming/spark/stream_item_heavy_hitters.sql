{#- Spark's stream_item_heavy_hitters: the DuckDB build is the dbt Python model of the same name
    in models/marts/streaming/ (a Misra-Gries summary; dbt-spark runs Python models only on
    Databricks), and dbt_project.yml enables exactly one of the two per engine. Spark SQL has no
    frequent-items function with guaranteed count bounds (approx_top_k returns estimates only), so
    this model counts exactly: views_lower = views_upper = the item's views and max_count_error
    = 0, which meets every bound the Python model states. The summary column holds Spark's own
    DataSketches frequent-items sketch of the same views (docs/spark.md). Built in full. -#}

{#- The vars the Python model reads through its config (_streaming__models.yml). -#}
{%- set capacity = var('streaming_heavy_hitter_capacity') | int %}
{%- set top_k = var('streaming_top_k') | int %}
{#- Checked when the model runs (as the Python model checks it), not when dbt parses the project:
    on DuckDB this model is disabled, and a parse error would stop every build there. -#}
{%- if execute and (top_k < 1 or top_k > capacity) %}
    {{ exceptions.raise_compiler_error("top_k must be in 1..capacity (" ~ capacity ~ "), got " ~ top_k) }}
{%- endif %}

with

page_views as (

    select * from {{ ref('stg_shop__page_views') }}

),

ingest_audit as (

    select * from {{ ref('stg_shop__ingest_audit') }}

),

item_views as (

    -- The Python model's summary skips views without an item (they are not in total_views).
    select item_id
    from page_views
    where item_id is not null

),

item_counts as (

    select
        item_id,
        count(*) as view_count
    from item_views
    group by item_id

),

ranked as (

    -- Ties in views by item_id (the Python model's ties are in summary order).
    select
        item_id,
        view_count,
        row_number() over (order by view_count desc, item_id asc) as view_rank
    from item_counts

),

outside_top_k as (

    -- The views of the first item below the top-K (0 when there is none): an item surely belongs
    -- to the top-K when its views reach them.
    select coalesce(max(view_count), 0) as views_below
    from ranked
    where view_rank = {{ top_k + 1 }}

),

item_summary as (

    -- The column is named as the Python model's (summary, a keyword to the linter).
    select
        count(*) as total_views,
        approx_top_k_accumulate(item_id, {{ capacity }}).sketch as summary  -- noqa: RF04
    from item_views

),

watermark as (

    -- The batches a full build reads: every ingested one (what batch_window_open takes as the
    -- horizon on DuckDB).
    select coalesce(max(commit_seq), 0) as consumed_through_commit_seq
    from ingest_audit
    where batch_status = 'ingested'

)

select
    cast(ranked.view_rank as integer) as view_rank,
    ranked.item_id,
    ranked.view_count as views_lower,
    ranked.view_count as views_upper,
    ranked.view_count >= outside_top_k.views_below as is_certain_top_k,
    item_summary.total_views,
    cast(0 as bigint) as max_count_error,
    cast({{ capacity }} as integer) as summary_capacity,
    item_summary.summary,
    'item_id' as key_column,
    watermark.consumed_through_commit_seq

from ranked
cross join outside_top_k
cross join item_summary
cross join watermark
where ranked.view_rank <= {{ top_k }}
