{#- Watermarks of the models that retrain in full on every build (docs/incremental.md,
    "Recommendations"). They record their window like the incremental models
    (batch_window_open / batch_window_close), bounded by the watermarks of the parents
    that record one, so a table built from a stale parent (under --select) claims only
    what that parent held. -#}

{#- The names of this model's parent models that record a watermark (their pre-hook
    calls batch_window_open or retrain_window_open). A parent view reads the lake at query time: the audit's
    horizon already bounds it. -#}
{% macro watermarked_parents() -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set names = [] -%}
    {%- for parent in model.depends_on.nodes -%}
        {%- set node = graph.nodes.get(parent) -%}
        {%- if node and node.resource_type == 'model'
            and '_window_open(' in (node.config['pre-hook'] | map(attribute='sql') | join(' ')) -%}
            {%- do names.append(node.name) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(names) }}
{%- endmacro %}


{#- The retrained models' hooks (dbt_project.yml): batch_window_open with the parents that
    record a watermark, and batch_window_close, both OUTSIDE the model's transaction. The
    pre-hook commits the window with consumed_through reset to 0 (a build that fails
    afterwards leaves the model reading as stale, never as current), the table is built
    and committed, then the post-hook sets consumed_through to the horizon (a kill in
    between also leaves it at 0). Inside the transaction, as the incremental models do,
    a Python model (int_user_similarity) writes its table through another cursor, which
    the transaction opened by the hook could not see. -#}
{% macro retrain_window_open() -%}
    {%- if execute -%}
        {{ batch_window_open(watermarked_parents()) }}
    {%- endif -%}
{%- endmacro %}


{% macro retrain_window_close() -%}
    {%- if execute -%}
        {{ batch_window_close() }}
    {%- endif -%}
{%- endmacro %}


{#- The horizon of this model's window, fixed by its pre-hook: as a column, the ingest
    commit_seq through which every batch is reflected in the rows being built. -#}
{% macro window_horizon() -%}
    (
        select max(window_state.horizon)
        from _shop_meta.incremental_state as window_state
        where window_state.model = {{ build_marker_literal(this.identifier) }}
    )
{%- endmacro %}


{#- The names of the lake sources (source 'shop') upstream of the graph node `unique_id`. -#}
{% macro lake_sources_upstream(unique_id, found=none, seen=none) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set found = [] if found is none else found -%}
    {%- set seen = [] if seen is none else seen -%}
    {%- set node = graph.nodes.get(unique_id) -%}
    {%- for parent in (node.depends_on.nodes if node else []) -%}
        {%- if parent in graph.sources -%}
            {%- set source_node = graph.sources[parent] -%}
            {%- if source_node.source_name == 'shop' and source_node.name not in found -%}
                {%- do found.append(source_node.name) -%}
            {%- endif -%}
        {%- endif -%}
        {%- if parent not in graph.sources and parent not in seen -%}
            {%- do seen.append(parent) -%}
            {%- do lake_sources_upstream(parent, found, seen) -%}
        {%- endif -%}
    {%- endfor -%}
    {{ return(found | sort) }}
{%- endmacro %}


{#- The lake sources upstream of the model stored as `relation` (a generic test's model);
    fails at compile time when no single model or no lake source matches. -#}
{% macro lake_sources_of_model(relation) -%}
    {%- if not execute -%}{{ return([]) }}{%- endif -%}
    {%- set matches = [] -%}
    {%- for unique_id, node in graph.nodes.items() -%}
        {%- if node.resource_type == 'model' and (node.alias or node.name) == relation.identifier -%}
            {%- do matches.append(unique_id) -%}
        {%- endif -%}
    {%- endfor -%}
    {%- if matches | length != 1 -%}
        {{ exceptions.raise_compiler_error("no single model is stored as " ~ relation.identifier) }}
    {%- endif -%}
    {%- set sources = lake_sources_upstream(matches[0]) -%}
    {%- if not sources -%}
        {{ exceptions.raise_compiler_error("no lake source is upstream of " ~ relation.identifier) }}
    {%- endif -%}
    {{ return(sources) }}
{%- endmacro %}
