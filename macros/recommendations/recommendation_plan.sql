{#-
  Plans the int_recommendations build: logs, per dataset, the join rows its two
  per-user scorers make before they aggregate (user_knn: each similarity row times
  the neighbour's ratings; item_cooccurrence: each affinity row times the item's
  similar items; counted over every user, so an upper bound for the train lists'
  evaluated users), and returns the number of user-hash buckets each dataset is
  built in: var recommendation_buckets, or with 'auto' enough buckets that each
  holds at most recommendation_candidate_rows_per_bucket of those rows (of the
  larger dataset).
-#}
{% macro recs_recommendation_plan(similarity, centred_ratings, affinity, item_similarity) %}
    {%- set setting = var('recommendation_buckets') -%}
    {%- if not execute -%}
        {{ return(1) }}
    {%- endif -%}
    {%- set sql -%}
        with

        ratings_per_user as (
            select cast(dataset as varchar) as dataset, user_id, count(*) as n
            from {{ centred_ratings }}
            group by all
        ),

        similar_per_item as (
            select cast(dataset as varchar) as dataset, item_id, count(*) as n
            from {{ item_similarity }}
            group by all
        ),

        knn as (
            select cast(similarity.dataset as varchar) as dataset, sum(ratings_per_user.n) as join_rows
            from {{ similarity }} as similarity
            inner join ratings_per_user
                on cast(similarity.dataset as varchar) = ratings_per_user.dataset
                and similarity.neighbour_id = ratings_per_user.user_id
            group by all
        ),

        cooccurrence as (
            select cast(affinity.dataset as varchar) as dataset, sum(similar_per_item.n) as join_rows
            from {{ affinity }} as affinity
            inner join similar_per_item
                on cast(affinity.dataset as varchar) = similar_per_item.dataset
                and affinity.item_id = similar_per_item.item_id
            group by all
        ),

        datasets as (
            select dataset from knn
            union
            select dataset from cooccurrence
        )

        select
            datasets.dataset,
            coalesce(knn.join_rows, 0) as knn_rows,
            coalesce(cooccurrence.join_rows, 0) as cooccurrence_rows
        from datasets
        left join knn on datasets.dataset = knn.dataset
        left join cooccurrence on datasets.dataset = cooccurrence.dataset
        order by datasets.dataset
    {%- endset -%}
    {%- set rows = run_query(sql).rows -%}
    {%- set largest = namespace(rows=0) -%}
    {%- for row in rows -%}
        {%- set largest.rows = [largest.rows, (row[1] | int) + (row[2] | int)] | max -%}
    {%- endfor -%}
    {%- if setting == 'auto' -%}
        {%- set per_bucket = var('recommendation_candidate_rows_per_bucket') | int -%}
        {%- if per_bucket < 1 -%}
            {{ exceptions.raise_compiler_error(
                "recommendation_candidate_rows_per_bucket must be >= 1, got " ~ per_bucket) }}
        {%- endif -%}
        {%- set n_buckets = [1, (largest.rows + per_bucket - 1) // per_bucket] | max -%}
    {%- else -%}
        {%- set n_buckets = setting | int -%}
    {%- endif -%}
    {%- for row in rows -%}
        {%- do log(
            "recommendations, dataset " ~ row[0] ~ ": user_knn join rows " ~ "{:,}".format(row[1] | int)
            ~ ", item_cooccurrence join rows " ~ "{:,}".format(row[2] | int) ~ "; "
            ~ n_buckets ~ " user-hash bucket(s)", info=True) -%}
    {%- endfor -%}
    {{ return(n_buckets) }}
{% endmacro %}
