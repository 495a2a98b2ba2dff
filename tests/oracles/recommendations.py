"""Brute-force NumPy/pandas reference for the recommendation models (test helper, not a test module).

Everything here is computed densely and directly from the formulas, with no
candidate generation, sampling or bucketing, so the SQL models can be checked
against it.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd


@dataclass(frozen=True)
class Settings:
    """The dbt vars the models ran with."""

    min_co_rated: int = 2
    neighbours_k: int = 50
    n_recommendations: int = 10
    view_weight: float = 1.0
    purchase_weight: float = 4.0
    rating_weight: float = 3.0
    half_life_days: float = 30.0


def current_ratings(ratings: pd.DataFrame) -> pd.DataFrame:
    """Latest rating per (user, item): later rated_at wins, then the larger rating_id."""
    ordered = ratings.sort_values(["user_id", "item_id", "rated_at", "rating_id"])
    return ordered.groupby(["user_id", "item_id"], as_index=False).last()


def user_stats(current: pd.DataFrame) -> pd.DataFrame:
    """n_ratings, mean_rating, centred_norm and eligibility per user."""
    rows = []
    for user, group in current.groupby("user_id"):
        values = group["rating"].to_numpy(dtype=float)
        mean = values.sum() / len(values)
        norm = float(np.sqrt(((values - mean) ** 2).sum()))
        rows.append((user, len(values), mean, norm, len(values) >= 2 and norm > 0))
    return pd.DataFrame(rows, columns=["user_id", "n_ratings", "mean_rating", "centred_norm", "eligible"])


@dataclass(frozen=True)
class Dense:
    """Eligible users' centred ratings as a dense user x item matrix plus the rated mask."""

    users: np.ndarray
    items: np.ndarray
    centred: np.ndarray
    rated: np.ndarray
    norms: np.ndarray


def dense_centred(current: pd.DataFrame, stats: pd.DataFrame) -> Dense:
    """Dense centred matrix of the eligible users."""
    eligible = stats[stats["eligible"]].set_index("user_id")
    rows = current[current["user_id"].isin(eligible.index)]
    users = np.sort(rows["user_id"].unique())
    items = np.sort(rows["item_id"].unique())
    u_index = {u: k for k, u in enumerate(users)}
    i_index = {i: k for k, i in enumerate(items)}
    centred = np.zeros((len(users), len(items)))
    rated = np.zeros((len(users), len(items)))
    for user, item, rating in rows[["user_id", "item_id", "rating"]].itertuples(index=False):
        centred[u_index[user], i_index[item]] = float(rating) - eligible.at[user, "mean_rating"]
        rated[u_index[user], i_index[item]] = 1.0
    norms = eligible.loc[users, "centred_norm"].to_numpy(dtype=float) if len(users) else np.zeros(0)
    return Dense(users, items, centred, rated, norms)


def similarity(current: pd.DataFrame, settings: Settings) -> pd.DataFrame:
    """Exact top-K positive neighbours per user (ties: smaller neighbour id first)."""
    stats = user_stats(current)
    dense = dense_centred(current, stats)
    dots = dense.centred @ dense.centred.T
    co = dense.rated @ dense.rated.T
    sims = dots / np.outer(dense.norms, dense.norms) if len(dense.users) else dots
    rows = []
    for a, user in enumerate(dense.users):
        ok = (co[a] >= settings.min_co_rated) & (np.round(sims[a], 12) > 0)
        ok[a] = False
        cand = np.flatnonzero(ok)
        # Same tie rule as the model: equal after rounding to 12 decimals, smaller id first.
        order = cand[np.lexsort((dense.users[cand], -np.round(sims[a, cand], 12)))][: settings.neighbours_k]
        for rank, b in enumerate(order, start=1):
            rows.append((user, dense.users[b], sims[a, b], int(co[a, b]), rank))
    return pd.DataFrame(rows, columns=["user_id", "neighbour_id", "similarity", "n_co_rated", "neighbour_rank"])


def affinity(
    views: pd.DataFrame,
    purchases: pd.DataFrame,
    current: pd.DataFrame,
    settings: Settings,
    reference: pd.Timestamp | None = None,
) -> pd.DataFrame:
    """SAR time-decayed affinity per (user, item)."""
    events = pd.concat(
        [
            pd.DataFrame(
                {
                    "user_id": views["user_id"],
                    "item_id": views["item_id"],
                    "t": views["viewed_at"],
                    "w": settings.view_weight,
                }
            ),
            pd.DataFrame(
                {
                    "user_id": purchases["user_id"],
                    "item_id": purchases["item_id"],
                    "t": purchases["purchased_at"],
                    "w": settings.purchase_weight,
                }
            ),
            pd.DataFrame(
                {
                    "user_id": current["user_id"],
                    "item_id": current["item_id"],
                    "t": current["rated_at"],
                    "w": settings.rating_weight * current["rating"].astype(float) / 5.0,
                }
            ),
        ],
        ignore_index=True,
    )
    events = events[events["user_id"].notna()]
    t_ref = events["t"].max() if reference is None else reference
    age_days = (t_ref - events["t"]).dt.total_seconds() / 86400.0
    events = events.assign(a=events["w"] * np.power(2.0, -age_days / settings.half_life_days))
    out = events.groupby(["user_id", "item_id"], as_index=False).agg(affinity=("a", "sum"), last_t=("t", "max"))
    return out


def knn_recommendations(
    current: pd.DataFrame, neighbours: pd.DataFrame, seen: set[tuple[str, str]], settings: Settings
) -> dict[str, dict[str, list[tuple[str, float]]]]:
    """Top-n (item, score) per user for user_knn and user_knn_predicted_rating."""
    stats = user_stats(current).set_index("user_id")
    by_user = dict(iter(current.groupby("user_id")))
    out: dict[str, dict[str, list[tuple[str, float]]]] = {"user_knn": {}, "user_knn_predicted_rating": {}}
    for user, group in neighbours.groupby("user_id"):
        num: dict[str, float] = {}
        den: dict[str, float] = {}
        for neighbour, sim in group[["neighbour_id", "similarity"]].itertuples(index=False):
            mean_v = stats.at[neighbour, "mean_rating"]
            for item, rating in by_user[neighbour][["item_id", "rating"]].itertuples(index=False):
                num[item] = num.get(item, 0.0) + sim * (float(rating) - mean_v)
                den[item] = den.get(item, 0.0) + abs(sim)
        mu = stats.at[user, "mean_rating"]
        scored = [(item, mu + num[item] / den[item], den[item]) for item in num if (user, item) not in seen]
        weighted = sorted(((i, p * s, s) for i, p, s in scored), key=_tie_rule)
        plain = sorted(scored, key=_tie_rule)
        n = settings.n_recommendations
        out["user_knn"][str(user)] = [(i, float(s)) for i, s, _ in weighted[:n]]
        out["user_knn_predicted_rating"][str(user)] = [(i, float(p)) for i, p, _ in plain[:n]]
    return out


def _tie_rule(entry: tuple[str, float, float]) -> tuple[float, float, str]:
    # The model's order: score, then support, rounded to 10 decimals, then item id.
    item, score, support = entry
    return (-round(score, 10), -round(support, 10), item)


def popularity_recommendations(
    affinity_rows: pd.DataFrame, users: list[str], n: int
) -> dict[str, list[tuple[str, float]]]:
    """Most popular unseen items per user (popularity = distinct interacting users)."""
    counts = affinity_rows.groupby("item_id")["user_id"].nunique()
    ranked = sorted(counts.items(), key=lambda x: (-x[1], x[0]))
    seen = affinity_rows.groupby("user_id")["item_id"].agg(set).to_dict()
    out = {}
    for user in users:
        mine = seen.get(user, set())
        out[str(user)] = [(i, float(c)) for i, c in ranked if i not in mine][:n]
    return out


def cooccurrence_recommendations(
    affinity_rows: pd.DataFrame, n: int, k_items: int = 50, max_items: int = 100, min_users: int = 2
) -> dict[str, list[tuple[str, float]]]:
    """SAR item-item: Jaccard over users' most recent items, score = sum of affinity x Jaccard."""
    recent = (
        affinity_rows.sort_values(["user_id", "last_t", "item_id"], ascending=[True, False, True])
        .groupby("user_id")
        .head(max_items)
    )
    baskets = recent.groupby("user_id")["item_id"].agg(list)
    item_users = recent.groupby("item_id").size().to_dict()
    pair_counts: dict[tuple[str, str], int] = {}
    for items in baskets:
        for i in items:
            for j in items:
                if i != j:
                    pair_counts[(i, j)] = pair_counts.get((i, j), 0) + 1
    similar: dict[str, list[tuple[str, float]]] = {}
    for (i, j), c in pair_counts.items():
        if c >= min_users:
            similar.setdefault(i, []).append((j, c / (item_users[i] + item_users[j] - c)))
    similar = {i: sorted(js, key=lambda x: (-x[1], x[0]))[:k_items] for i, js in similar.items()}
    out = {}
    for user, group in affinity_rows.groupby("user_id"):
        seen = set(group["item_id"])
        scores: dict[str, float] = {}
        for item, a in group[["item_id", "affinity"]].itertuples(index=False):
            for j, jac in similar.get(item, []):
                scores[j] = scores.get(j, 0.0) + a * jac
        ranked = sorted(((j, s, 0.0) for j, s in scores.items() if j not in seen), key=_tie_rule)
        out[str(user)] = [(j, float(s)) for j, s, _ in ranked[:n]]
    return out


def ranking_metrics(recommended: list[str], relevant: set[str], k: int) -> tuple[float, float, float, float]:
    """precision@k, recall@k, nDCG@k and AP@k of one ranked list."""
    hits = [rank for rank, item in enumerate(recommended[:k], start=1) if item in relevant]
    dcg = sum(1.0 / np.log2(rank + 1) for rank in hits)
    idcg = sum(1.0 / np.log2(rank + 1) for rank in range(1, min(len(relevant), k) + 1))
    ap = sum((n + 1) / rank for n, rank in enumerate(hits)) / min(len(relevant), k)
    return len(hits) / k, len(hits) / len(relevant), dcg / idcg, ap
