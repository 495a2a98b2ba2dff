"""Top-K neighbours per user, exact, on the evaluation's training ratings (before the cutoff)."""

from shop_analytics.recommendations.similarity_model import build_similarity


def model(dbt, session):
    dbt.config(materialized="table")
    # dbt passes a Python model only the config keys read in this file.
    return build_similarity(session, dbt.ref("int_ratings__train_centred"), k=int(dbt.config.get("neighbours_k")),
                            min_co_rated=int(dbt.config.get("min_co_rated")))
