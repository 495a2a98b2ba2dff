"""Top-K neighbours per (dataset, user), exact: a blocked sparse product over int_ratings__centred."""

from shop_analytics.dbt.similarity_model import build_similarity


def model(dbt, session):
    dbt.config(materialized="retrained_table")
    # Read by the watermark hooks (dbt_project.yml): a dependency, so dbt builds it first.
    dbt.ref("stg_shop__ingest_audit")
    # dbt passes a Python model only the config keys read in this file.
    return build_similarity(
        session,
        dbt.ref("int_ratings__centred"),
        k=int(dbt.config.get("neighbours_k")),
        min_co_rated=int(dbt.config.get("min_co_rated")),
    )
