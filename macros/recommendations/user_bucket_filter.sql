{#-
  Predicate that keeps one of `n_buckets` user-hash buckets. The insert_by_bucket
  materialization fills in __BUCKET__ and reads the bucket count from the
  __BUCKETS__ marker this macro leaves in the compiled SQL.
-#}
{% macro user_bucket_filter(column, n_buckets) -%}
    {%- set n = n_buckets | int -%}
    {%- if n < 1 -%}
        {{ exceptions.raise_compiler_error("user_bucket_filter: n_buckets must be >= 1, got " ~ n_buckets) }}
    {%- endif -%}
    {%- if n == 1 -%}
        (__BUCKET__ = 0 /* __BUCKETS__=1 */)
    {%- else -%}
        (hash({{ column }}) % {{ n }} = __BUCKET__ /* __BUCKETS__={{ n }} */)
    {%- endif -%}
{%- endmacro %}
