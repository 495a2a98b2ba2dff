{#- Batch watermarks of the fact-derived models (docs/incremental.md).

    Each model M that reads fact batches records, in _shop_meta.incremental_state,
    `consumed_through`: the ingest commit sequence (commit_seq of the lake's audit) up
    to which every committed batch is reflected in M. Ingest gives commit_seq in commit
    order and exports a batch's audit row only after its files are all in the lake, so
    "every batch with commit_seq <= W" is a well-defined prefix of the lake's history.

    - pre-hook batch_window_open(upstream): inside M's transaction, fixes this run's
      window (consumed_through, horizon]: the horizon is the audit's highest commit_seq
      read BEFORE M reads any data, lowered to what every upstream model has consumed
      (so a model never claims a batch its inputs did not hold, also under --select).
    - new_batches(sources): the committed batches of `sources` inside the window.
    - post-hook batch_window_close(): consumed_through := horizon, still inside M's
      transaction: the watermark moves if and only if the data it describes commits.
    A full build (first run, --full-refresh, a table model) reads everything and
    records the horizon too. The state table is created by incremental_state_setup()
    in on-run-start, before any model runs concurrently.

    The pre-hook also records `settings`: the vars that shape stored rows and the
    derivation number (incremental_settings()). An incremental run under other values
    would mix two definitions in one table, so it stops with an error naming what
    changed and asking for --full-refresh. A row from before settings were recorded
    (NULL) predates derivation 2, so it is refused too. -#}

{% macro incremental_state_setup() -%}
    {{ return(adapter.dispatch('incremental_state_setup', 'shop_analytics')()) }}
{%- endmacro %}

{#- Spark keeps no _shop_meta yet (docs/spark.md, "Not yet ported"): nothing to run. -#}
{% macro spark__incremental_state_setup() -%}
    {{ return('') }}
{%- endmacro %}

{% macro default__incremental_state_setup() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    create schema if not exists _shop_meta;
    create table if not exists _shop_meta.incremental_state (
        model varchar not null,
        consumed_through bigint not null,
        horizon bigint not null,
        invocation_id varchar not null,
        updated_at timestamp not null
    );
    alter table _shop_meta.incremental_state add column if not exists settings varchar;
    {#- The retrained models' input keys (macros/incremental/retrain_inputs.sql): their key;
        `through`, the audit's highest commit_seq it covers; the dbt invocation that built
        the stored table and the last one that built or kept it. #}
    create table if not exists _shop_meta.retrain_inputs (
        model varchar not null,
        input_key varchar not null,
        through bigint not null,
        built_invocation_id varchar not null,
        built_at timestamp not null,
        invocation_id varchar not null,
        updated_at timestamp not null
    );
{%- endmacro %}


{#- The vars whose values are baked into the rows the incremental models store: local
    dates (timezone), amounts (reporting_currency, fx_max_staleness_days,
    legacy_purchase_currency), which page views are accumulated (popularity_since) and
    which copies of an event count (deduplicate_lake_events). One set for every incremental model: a change asks
    for a full refresh of each, never silently mixes definitions. `model_vars`: the vars
    that shape one model's rows only (the trends' window), recorded and checked for it
    alone. Compared as text, so 7 and '7' on the command line are the same setting. -#}
{% macro incremental_settings(model_vars=[]) -%}
    {#- derivation: raise it with every change to how stored keys or amounts are derived.
        2: migrated v1 purchases are the orders 'purchase:<id>'; rates convert with every digit. -#}
    {%- set values = {
        'derivation': '2',
        'deduplicate_lake_events': var('deduplicate_lake_events', false) | string,
        'fx_max_staleness_days': var('fx_max_staleness_days', 7) | string,
        'legacy_purchase_currency': var('legacy_purchase_currency', 'USD') | string,
        'popularity_since': var('popularity_since') | string,
        'reporting_currency': var('reporting_currency', 'USD') | string,
        'timezone': var('timezone', 'UTC') | string,
    } -%}
    {%- for name in model_vars -%}
        {%- do values.update({name: var(name) | string}) -%}
    {%- endfor -%}
    {{- return(tojson(values, sort_keys=true)) -}}
{%- endmacro %}


{#- Stop an incremental run whose settings differ from those the stored rows were built with. -#}
{% macro check_incremental_settings(model_name, settings) -%}
    {%- set stored = run_query(
        "select settings from _shop_meta.incremental_state where model = " ~ model_name) -%}
    {%- if stored.rows | length == 0 or stored.rows[0][0] == settings -%}{{ return('') }}{%- endif -%}
    {%- set now = fromjson(settings) -%}
    {%- if stored.rows[0][0] is none -%}
        {%- set before = now.copy() -%}
        {%- do before.update({'derivation': '1'}) -%}
    {%- else -%}
        {%- set before = fromjson(stored.rows[0][0]) -%}
    {%- endif -%}
    {%- set changed = [] -%}
    {%- for key in now -%}
        {%- if before.get(key) != now[key] -%}
            {%- do changed.append(key ~ ": " ~ tojson(before.get(key)) ~ " -> " ~ tojson(now[key])) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- do exceptions.raise_compiler_error(
        "Model " ~ this.identifier ~ " stores rows built with other settings (" ~ changed | join(", ")
        ~ "). An incremental run would mix both in one table: rebuild it with "
        ~ "`dbt build --full-refresh --select " ~ this.identifier ~ "+` (docs/incremental.md).") -%}
{%- endmacro %}


{#- `through`: the audit bound of the window when the caller already read it (a retrained
    model whose inputs are unchanged through that commit_seq); by default the audit's highest.
    `model_vars`: the vars only this model's stored rows depend on (incremental_settings). -#}
{% macro batch_window_open(upstream=[], through=none, model_vars=[]) -%}
    {{ return(adapter.dispatch('batch_window_open', 'shop_analytics')(upstream, through, model_vars)) }}
{%- endmacro %}

{#- Spark keeps no _shop_meta yet and builds the batch-tracked models in full (docs/spark.md). -#}
{% macro spark__batch_window_open(upstream=[], through=none, model_vars=[]) -%}
    {{ return('') }}
{%- endmacro %}

{% macro default__batch_window_open(upstream=[], through=none, model_vars=[]) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set model_name = build_marker_literal(this.identifier) -%}
    {%- set audit_high = "(select coalesce(max(commit_seq), 0) from " ~ ref('stg_shop__ingest_audit')
        ~ " where batch_status = 'ingested')" if through is none else (through | int | string) -%}
    {%- set bounds = [audit_high] -%}
    {%- for name in upstream -%}
        {%- do bounds.append(
            "coalesce((select max(consumed_through) from _shop_meta.incremental_state where model = "
            ~ build_marker_literal(name) ~ "), 0)") -%}
    {%- endfor -%}
    {%- set from_seq = "coalesce((select max(consumed_through) from _shop_meta.incremental_state where model = "
        ~ model_name ~ "), 0)" if is_incremental() else "0" -%}
    {%- set settings = incremental_settings(model_vars) -%}
    {%- if is_incremental() -%}{%- do check_incremental_settings(model_name, settings) -%}{%- endif -%}
    insert into _shop_meta.incremental_state (model, consumed_through, horizon, invocation_id, updated_at, settings)
    select
        {{ model_name }},
        {{ from_seq }},
        least({{ bounds | join(', ') }}),
        {{ build_marker_literal(invocation_id) }},
        timezone('UTC', now()),
        {{ build_marker_literal(settings) }};
    delete from _shop_meta.incremental_state
    where model = {{ model_name }} and invocation_id <> {{ build_marker_literal(invocation_id) }};
{%- endmacro %}


{% macro batch_window_close() -%}
    {{ return(adapter.dispatch('batch_window_close', 'shop_analytics')()) }}
{%- endmacro %}

{% macro spark__batch_window_close() -%}
    {{ return('') }}
{%- endmacro %}

{% macro default__batch_window_close() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    update _shop_meta.incremental_state
    set consumed_through = greatest(consumed_through, horizon), updated_at = timezone('UTC', now())
    where model = {{ build_marker_literal(this.identifier) }};
{%- endmacro %}


{#- The committed (ingested) batches of `sources` inside this model's window: one row per
    (source_name, batch_id). Written to sit in a CTE body (4 spaces in). -#}
{% macro new_batches(sources) -%}
    {{ return(adapter.dispatch('new_batches', 'shop_analytics')(sources)) }}
{%- endmacro %}

{#- Spark builds the batch-tracked models as full tables (docs/spark.md): no batch is new, and
    a full build reads every batch without looking at this CTE. It reads no ingest audit
    (not built on Spark) and no _shop_meta (none on Spark). -#}
{% macro spark__new_batches(sources) -%}
    {%- if is_incremental() -%}
        {{ exceptions.raise_compiler_error("incremental builds of " ~ this.identifier ~ " are not ported to Spark") }}
    {%- endif -%}
    select
        cast(null as string) as source_name,
        cast(null as string) as batch_id
    where false
{%- endmacro %}

{% macro default__new_batches(sources) -%}
    select distinct
        audit.source_name,
        audit.batch_id
    from {{ ref('stg_shop__ingest_audit') }} as audit
    inner join _shop_meta.incremental_state as window_state
        on
            window_state.model = {{ build_marker_literal(this.identifier) }}
            and audit.commit_seq > window_state.consumed_through
            and audit.commit_seq <= window_state.horizon
    where
        audit.batch_status = 'ingested'
        and audit.source_name in ({% for s in sources %}{{ build_marker_literal(s) }}{{ ", " if not loop.last }}{% endfor %})
{%- endmacro %}
