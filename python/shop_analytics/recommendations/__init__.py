"""Recommendation building blocks that run inside dbt Python models."""
