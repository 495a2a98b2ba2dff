{#-
  The build marker: every dbt invocation that runs project hooks (build, run, test, seed,
  snapshot, retry, source freshness) records itself in _shop_meta.dbt_invocations inside the
  build file. on-run-start inserts a 'running' row; on-run-end turns it into 'finished' with
  the count of results by status. A killed invocation stays 'running'. `shop-analytics
  publish` reads the rows and publishes only after a complete `dbt build` (docs/serving.md,
  "The build marker"). The schema is never published.

  Both macros return SQL for dbt to run outside a transaction (project hooks run with
  auto_begin off and DuckDB autocommits), so the 'running' row is on disk before the first
  model starts, and the end is one UPDATE: either all of it is recorded or none.
-#}

{% macro build_marker_start() -%}
    {{ return(adapter.dispatch('build_marker_start', 'shop_analytics')()) }}
{%- endmacro %}

{#- Spark keeps no _shop_meta yet (docs/spark.md, "Not yet ported"): nothing to run. -#}
{% macro spark__build_marker_start() -%}
    {{ return('') }}
{%- endmacro %}

{% macro default__build_marker_start() -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {%- set args = invocation_args_dict -%}
    {%- set selection = {
        'select': args.get('select'), 'exclude': args.get('exclude'), 'selector': args.get('selector'),
        'resource_types': args.get('resource_types') or args.get('resource_type'),
        'exclude_resource_types': args.get('exclude_resource_types') or args.get('exclude_resource_type'),
        'empty': args.get('empty', false), 'sample': args.get('sample'), 'full_refresh': args.get('full_refresh', false),
    } -%}
    create schema if not exists _shop_meta;
    create table if not exists _shop_meta.dbt_invocations (
        seq bigint not null,
        invocation_id varchar not null,
        command varchar not null,
        selection varchar not null,
        dbt_version varchar not null,
        target_name varchar not null,
        started_at timestamp not null,
        finished_at timestamp,
        status varchar not null,
        nodes_in_project integer,
        nodes_run integer,
        succeeded integer,
        warned integer,
        failed integer,
        skipped integer,
        problems varchar
    );
    insert into _shop_meta.dbt_invocations (
        seq, invocation_id, command, selection, dbt_version, target_name, started_at, status
    )
    select
        coalesce(max(seq), 0) + 1,
        {{ build_marker_literal(invocation_id) }},
        {{ build_marker_literal(flags.WHICH) }},
        {{ build_marker_literal(tojson(selection)) }},
        {{ build_marker_literal(dbt_version) }},
        {{ build_marker_literal(target.name) }},
        timezone('UTC', now()),
        'running'
    from _shop_meta.dbt_invocations;
{%- endmacro %}


{% macro build_marker_end(results) -%}
    {{ return(adapter.dispatch('build_marker_end', 'shop_analytics')(results)) }}
{%- endmacro %}

{#- Spark keeps no _shop_meta yet (docs/spark.md, "Not yet ported"): nothing to run. -#}
{% macro spark__build_marker_end(results) -%}
    {{ return('') }}
{%- endmacro %}

{% macro default__build_marker_end(results) -%}
    {%- if not execute -%}{{ return('') }}{%- endif -%}
    {#- Nodes a complete `dbt build` runs: every enabled seed, snapshot, data test and non-ephemeral model. -#}
    {%- set built_types = ['model', 'seed', 'snapshot', 'test'] -%}
    {%- set in_project = [] -%}
    {%- for node in graph.nodes.values() -%}
        {%- if node.resource_type in built_types
            and not (node.resource_type == 'model' and node.config.materialized == 'ephemeral') -%}
            {%- do in_project.append(node.unique_id) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- set counts = {'run': 0, 'succeeded': 0, 'warned': 0, 'failed': 0, 'skipped': 0} -%}
    {%- set problems = [] -%}
    {%- for result in results -%}
        {%- set status = result.status | string -%}
        {%- if result.node.unique_id in in_project -%}{%- do counts.update({'run': counts['run'] + 1}) -%}{%- endif -%}
        {%- if status in ['success', 'pass', 'no-op'] -%}
            {%- do counts.update({'succeeded': counts['succeeded'] + 1}) -%}
        {%- elif status == 'warn' -%}
            {%- do counts.update({'warned': counts['warned'] + 1}) -%}
        {%- elif status == 'skipped' -%}
            {%- do counts.update({'skipped': counts['skipped'] + 1}) -%}
        {%- else -%}
            {#- error, fail, runtime error, partial success: anything else is a failure -#}
            {%- do counts.update({'failed': counts['failed'] + 1}) -%}
            {%- do problems.append(result.node.unique_id ~ ' (' ~ status ~ ')') -%}
        {%- endif -%}
    {%- endfor -%}
    update _shop_meta.dbt_invocations
    set
        status = 'finished',
        finished_at = timezone('UTC', now()),
        nodes_in_project = {{ in_project | length }},
        nodes_run = {{ counts['run'] }},
        succeeded = {{ counts['succeeded'] }},
        warned = {{ counts['warned'] }},
        failed = {{ counts['failed'] }},
        skipped = {{ counts['skipped'] }},
        problems = {{ build_marker_literal(problems[:20] | join(', ')) }}
    where invocation_id = {{ build_marker_literal(invocation_id) }};
{%- endmacro %}


{% macro build_marker_literal(value) -%}
    '{{ (value | string) | replace("'", "''") }}'
{%- endmacro %}
