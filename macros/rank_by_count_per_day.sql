{#- rank() over (partition by view_date order by `count_column` desc), one row
    per (view_date, count) of `rows_sql` instead of one per row: a rank is 1 +
    the rows with a larger count that day. Callers join it back on
    (view_date, count); with millions of rows and a few hundred thousand
    distinct (day, count) pairs this avoids sorting every row by day. -#}
{% macro rank_by_count_per_day(rows_sql, count_column, rank_column) -%}
    select
        view_date,
        {{ count_column }},
        cast(1 + coalesce(
            sum(items) over (
                partition by view_date order by {{ count_column }} desc
                rows between unbounded preceding and 1 preceding
            ),
            0
        ) as bigint) as {{ rank_column }}

    from (
        select view_date, {{ count_column }}, count(*) as items
        from ({{ rows_sql }}) as ranked_rows
        group by view_date, {{ count_column }}
    ) as counts_per_day
{%- endmacro %}
