{#-
  Plans the self_join similarity build (models/intermediate/recommendations/
  similarity_self_join): logs, per dataset, how many join rows the naive self-join
  would make (sum over items of raters^2) and how many the capped candidate join
  makes (sum of raters * min(raters, cap)), and returns the number of user-hash
  buckets each dataset is built in: var similarity_buckets, or with 'auto' enough
  buckets that each holds at most similarity_join_rows_per_bucket capped join rows
  of the largest dataset.
-#}
{% macro recs_similarity_plan(centred_ratings) %}
    {%- set setting = var('similarity_buckets') -%}
    {%- if not execute -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set cap = var('similarity_candidate_cap') | int -%}
    {%- set sql -%}
        select
            dataset,
            sum(raters * raters) as naive_rows,
            sum(raters * least(raters, {{ cap }})) as capped_rows,
            sum(raters) as ratings,
            count(*) filter (where raters > {{ cap }}) as capped_items
        from (
            select dataset, item_id, count(*) as raters from {{ centred_ratings }} group by dataset, item_id
        ) as per_item
        group by dataset
        order by dataset
    {%- endset -%}
    {%- set rows = run_query(sql).rows -%}
    {%- set largest = namespace(capped_rows=0) -%}
    {%- for row in rows -%}
        {%- set largest.capped_rows = [largest.capped_rows, row[2] | int] | max -%}
    {%- endfor -%}
    {%- if setting == 'auto' -%}
        {%- set per_bucket = var('similarity_join_rows_per_bucket') | int -%}
        {%- set n_buckets = [1, (largest.capped_rows + per_bucket - 1) // per_bucket] | max -%}
    {%- else -%}
        {%- set n_buckets = setting | int -%}
    {%- endif -%}
    {%- for row in rows -%}
        {%- do log(
            "user similarity, dataset " ~ row[0] ~ ", on " ~ centred_ratings ~ ": naive self-join sum(raters^2) = "
            ~ "{:,}".format(row[1] | int) ~ " join rows; capped at " ~ cap ~ " raters per item: "
            ~ "{:,}".format(row[2] | int) ~ " (" ~ row[4] ~ " items capped, " ~ "{:,}".format(row[3] | int)
            ~ " ratings); " ~ n_buckets ~ " user-hash bucket(s)", info=True) -%}
    {%- endfor -%}
    {{ return(n_buckets) }}
{% endmacro %}
