"""The exact sparse similarity engine (shop_analytics.recommendations.similarity) against brute force."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pyarrow as pa
import pytest

from oracles import recommendations as oracle
from shop_analytics.recommendations.similarity import top_k_neighbours


def _centred(current: pd.DataFrame) -> pa.Table:
    stats = oracle.user_stats(current)
    frame = current.merge(stats[stats["eligible"]], on="user_id")
    return pa.table(
        {
            "user_id": frame["user_id"].to_numpy(),
            "item_id": frame["item_id"].to_numpy(),
            "centred_rating": (frame["rating"] - frame["mean_rating"]).to_numpy(dtype=float),
            "user_norm": frame["centred_norm"].to_numpy(dtype=float),
        }
    )


def _random_ratings(seed: int, users: int = 120, items: int = 30) -> pd.DataFrame:
    # Text keys, not zero-padded: code-point order ('u10' < 'u3') differs from numeric order,
    # so a tie broken by the wrong order shows.
    rng = np.random.default_rng(seed)
    rows = [
        (f"u{u * 7 + 3}", f"i{i}", int(rng.integers(1, 6)))
        for u in range(users)
        for i in rng.choice(items, size=int(rng.integers(1, 15)), replace=False)
    ]
    return pd.DataFrame(rows, columns=["user_id", "item_id", "rating"])


@pytest.mark.parametrize(
    "k, min_co_rated, block_cells, threads", [(1, 2, 1, 1), (5, 2, 500, 2), (50, 1, 10**7, 2), (1000, 3, 2_000, 1)]
)
def test_equals_brute_force_for_any_block_size(k: int, min_co_rated: int, block_cells: int, threads: int) -> None:
    # Integer ratings on few items make many tied similarities, so the tie rule is exercised.
    current = _random_ratings(seed=k)
    got = top_k_neighbours(_centred(current), k, min_co_rated, block_cells=block_cells, threads=threads).to_pandas()
    exact = oracle.similarity(current, oracle.Settings(neighbours_k=k, min_co_rated=min_co_rated))
    key = ["user_id", "neighbour_rank"]
    got, exact = got.sort_values(key).reset_index(drop=True), exact.sort_values(key).reset_index(drop=True)
    assert len(exact) > 0 and len(got) == len(exact)
    assert (
        got[["user_id", "neighbour_id", "neighbour_rank", "n_co_rated"]].to_numpy()
        == exact[["user_id", "neighbour_id", "neighbour_rank", "n_co_rated"]].to_numpy()
    ).all()
    assert np.abs(got["similarity"].to_numpy() - exact["similarity"].to_numpy()).max() <= 1e-12


def test_refuses_bad_input() -> None:
    table = _centred(_random_ratings(seed=1))
    with pytest.raises(ValueError, match="k >= 1"):
        top_k_neighbours(table, 0, 2)
    with pytest.raises(ValueError, match="lacks columns"):
        top_k_neighbours(table.drop(["user_norm"]), 5, 2)
    with pytest.raises(ValueError, match="duplicate"):
        top_k_neighbours(pa.concat_tables([table, table.slice(0, 1)]), 5, 2)
    zero_norm = table.set_column(3, "user_norm", pa.array(np.zeros(table.num_rows)))
    with pytest.raises(ValueError, match="positive user norms"):
        top_k_neighbours(zero_norm, 5, 2)


def test_empty_input_gives_an_empty_table() -> None:
    empty = _centred(_random_ratings(seed=1)).slice(0, 0)
    assert top_k_neighbours(empty, 5, 2).num_rows == 0
