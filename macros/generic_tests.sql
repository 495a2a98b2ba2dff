{#- Generic data tests used across the project's yml files. dbt packages
    (dbt_utils) cannot be fetched here, so the few we need live in the project. -#}

{#- Fails for every row where the SQL expression is not true. -#}
{% test expression_is_true(model, expression, column_name=none, where_clause=none) %}
    select *
    from {{ model }}
    where
        not coalesce(({{ expression }}), false)
        {% if where_clause %}and ({{ where_clause }}){% endif %}
{% endtest %}

{#- Fails for every non-null value outside [min_value, max_value]. -#}
{% test accepted_range(model, column_name, min_value=none, max_value=none) %}
    select {{ column_name }}
    from {{ model }}
    where
        {{ column_name }} is not null
        -- A missing bound renders as null, and a comparison with null is never true.
        and (
            {{ column_name }} < {{ min_value if min_value is not none else 'null' }}
            or {{ column_name }} > {{ max_value if max_value is not none else 'null' }}
        )
{% endtest %}

{#- Fails for every combination of the columns that occurs more than once. -#}
{% test unique_combination(model, columns) %}
    select
        {{ columns | join(', ') }},
        count(*) as occurrences
    from {{ model }}
    group by {{ columns | join(', ') }}
    having count(*) > 1
{% endtest %}

{#- Fails for every (key, 64-day block) in which a (key, date) pair occurs more
    than once: unique_combination on (key, date), at a fraction of its cost on
    big tables. Each row sets bit (day mod 64) of its (key, block) group, and a
    repeated pair sets its bit twice, so the group's sum of bits exceeds their
    bitwise or. The groups are keys x 64-day blocks instead of keys x days: on
    rpt_item_trends at 100M page views, 9M groups instead of 51.6M, 4 s
    instead of 7 s and a fifth of the memory. Rows with a null key or date are
    not checked (test those columns not_null). -#}
{% test unique_key_date(model, key_column, date_column) %}
    {{ adapter.dispatch('unique_key_date_failures', 'shop_analytics')(model, key_column, date_column) }}
{% endtest %}

{% macro default__unique_key_date_failures(model, key_column, date_column) %}
    with

    day_numbers as (

        -- Days since 1970 plus 2^31: non-negative for every DATE, so // and % floor.
        select
            {{ key_column }} as key_value,
            cast({{ date_column }} - date '1970-01-01' as bigint) + 2147483648 as day_number

        from {{ model }}
        where {{ key_column }} is not null and {{ date_column }} is not null

    )

    select
        key_value as {{ key_column }},
        day_number // 64 as date_block,
        count(*) as rows_in_block

    from day_numbers
    group by key_value, day_number // 64
    having sum(cast(1 as ubigint) << (day_number % 64)) <> bit_or(cast(1 as ubigint) << (day_number % 64))
{% endmacro %}

{#- Spark has no unsigned 64-bit integer for the bit trick: one row per repeated (key, date),
    as unique_combination. The test fails exactly when the DuckDB variant does. -#}
{% macro spark__unique_key_date_failures(model, key_column, date_column) %}
    select
        {{ key_column }},
        {{ date_column }},
        count(*) as occurrences
    from {{ model }}
    where {{ key_column }} is not null and {{ date_column }} is not null
    group by {{ key_column }}, {{ date_column }}
    having count(*) > 1
{% endmacro %}

{#- Fails when the rows were trained through an older ingest watermark than their inputs
    hold (docs/incremental.md, "Recommendations"): one row per ingested batch of a lake
    source upstream of the model whose commit_seq is above the model's `column_name`
    (the commit_seq through which it was built; NULL fails against every batch). The
    sources come from dbt's graph, so the check follows the model's lineage. -#}
{% test trained_through_every_input_batch(model, column_name) %}
    {% set sources = lake_sources_of_model(model) -%}
    with

    trained as (

        select distinct {{ column_name }} as trained_through from {{ model }}

    ),

    input_batches as (

        select source_name, batch_id, commit_seq
        from {{ ref('stg_shop__ingest_audit') }}
        where
            batch_status = 'ingested'
            and source_name in ({% for s in sources %}{{ build_marker_literal(s) }}{{ ", " if not loop.last }}{% else %}null{% endfor %})

    )

    select
        trained.trained_through,
        input_batches.source_name,
        input_batches.batch_id,
        input_batches.commit_seq
    from trained
    inner join input_batches
        on trained.trained_through is null or input_batches.commit_seq > trained.trained_through
{% endtest %}
