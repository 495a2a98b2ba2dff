"""What dbt loads: the dbt-duckdb plugin, the sketch UDFs it registers, and the helpers of the Python models.

- plugin.Plugin: declared in profiles.yml (``module: shop_analytics.dbt.plugin``)
- udfs.register_udfs(con): the vectorized sketch UDFs, also usable outside dbt
- streaming_models: building blocks of models/marts/streaming/*.py
- similarity_model.build_similarity: models/intermediate/recommendations/similarity_sparse/int_user_similarity.py
- code_digest.package_code_digest: the package code in the input key of the retrained models

Nothing is imported here, so a model loads only what it uses. (Inside these modules `import dbt`
is still dbt itself: imports are absolute.)
"""
