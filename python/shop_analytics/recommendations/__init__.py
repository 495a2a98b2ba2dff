"""The recommendation algorithms (their dbt Python model is shop_analytics.dbt.similarity_model)."""
