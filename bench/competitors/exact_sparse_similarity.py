"""Exact user-user mean-centred cosine, top-K per user, with a scipy sparse product (the reference).

Usage: python exact_sparse_similarity.py LAKE_DIR OUT_PARQUET [--k 50] [--min-co-rated 2] [--block 512]

Reads the ratings lake, keeps the latest rating per (user, item), centres on the
user mean, and computes W_b · Wᵀ (W = centred / norm) block by block of users,
together with the binary co-rating counts B_b · Bᵀ, so that memory stays at two
dense blocks of block × users. Writes (user_id, neighbour_id, similarity,
n_co_rated, neighbour_rank) with the same rules as rpt_user_similarity.
"""

from __future__ import annotations

import argparse
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa
import pyarrow.parquet as pq
import scipy.sparse as sp

LATEST_RATINGS = """
    select user_id, item_id, arg_max(rating, (rated_at, rating_id))::double as rating
    from read_parquet('{lake}/ratings/**/*.parquet', hive_partitioning = true)
    group by user_id, item_id
"""


def load_matrix(lake: Path) -> tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix]:
    """User ids, the row-normalised centred matrix W and the binary matrix B of eligible users."""
    con = duckdb.connect()
    table = con.execute(LATEST_RATINGS.format(lake=lake)).fetch_arrow_table()
    users = table["user_id"].to_numpy()
    items = table["item_id"].to_numpy()
    ratings = table["rating"].to_numpy()
    user_ids, rows = np.unique(users, return_inverse=True)
    _, cols = np.unique(items, return_inverse=True)
    counts = np.bincount(rows)
    means = np.bincount(rows, weights=ratings) / counts
    centred = ratings - means[rows]
    norms = np.sqrt(np.bincount(rows, weights=centred * centred))
    eligible = (counts >= 2) & (norms > 0)
    keep = eligible[rows]
    new_index = np.cumsum(eligible) - 1
    rows, cols, centred = new_index[rows[keep]], cols[keep], centred[keep]
    shape = (int(eligible.sum()), int(cols.max()) + 1 if len(cols) else 0)
    weights = centred / norms[eligible][rows]
    w = sp.csr_matrix((weights, (rows, cols)), shape=shape)
    b = sp.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=shape)
    return user_ids[eligible], w, b


def top_k(user_ids: np.ndarray, w: sp.csr_matrix, b: sp.csr_matrix, k: int, min_co: int, block: int) -> pa.Table:
    """Top-k positive neighbours per user by similarity, ties broken by the smaller neighbour id."""
    wt, bt = w.T.tocsr(), b.T.tocsr()
    out: dict[str, list[np.ndarray]] = {
        name: [] for name in ("user_id", "neighbour_id", "similarity", "n_co_rated", "rank")
    }
    n = w.shape[0]
    for start in range(0, n, block):
        stop = min(start + block, n)
        sims = (w[start:stop] @ wt).toarray()
        co = (b[start:stop] @ bt).toarray()
        local = np.arange(stop - start)
        co[local, local + start] = 0  # never your own neighbour
        sims[co < min_co] = 0.0
        sims[sims <= 0] = 0.0
        width = min(k, n)
        # Sort by (-similarity, neighbour id); neighbour ids grow with the column index.
        part = (
            np.argpartition(-sims, width - 1, axis=1)[:, :width]
            if width < n
            else np.tile(np.arange(n), (stop - start, 1))
        )
        # argpartition does not respect ties at the boundary: widen to all columns tied with the k-th value.
        kth = np.take_along_axis(sims, part, axis=1).min(axis=1)
        for r in range(stop - start):
            cand = np.flatnonzero(sims[r] > 0) if kth[r] <= 0 else np.flatnonzero(sims[r] >= kth[r])
            order = np.lexsort((cand, -sims[r, cand]))[:k]
            chosen = cand[order]
            if not len(chosen):
                continue
            out["user_id"].append(np.full(len(chosen), user_ids[start + r]))
            out["neighbour_id"].append(user_ids[chosen])
            out["similarity"].append(sims[r, chosen])
            out["n_co_rated"].append(co[r, chosen].astype(np.int64))
            out["rank"].append(np.arange(1, len(chosen) + 1))
    cols = {name: (np.concatenate(parts) if parts else np.array([], dtype=np.int64)) for name, parts in out.items()}
    return pa.table(
        {
            "user_id": cols["user_id"].astype(np.int64),
            "neighbour_id": cols["neighbour_id"].astype(np.int64),
            "similarity": cols["similarity"].astype(np.float64),
            "n_co_rated": cols["n_co_rated"].astype(np.int64),
            "neighbour_rank": cols["rank"].astype(np.int64),
        }
    )


def main() -> None:
    """Compute the exact top-K and write it to Parquet."""
    parser = argparse.ArgumentParser()
    parser.add_argument("lake", type=Path)
    parser.add_argument("out", type=Path)
    parser.add_argument("--k", type=int, default=50)
    parser.add_argument("--min-co-rated", type=int, default=2)
    parser.add_argument("--block", type=int, default=512)
    args = parser.parse_args()
    user_ids, w, b = load_matrix(args.lake)
    table = top_k(user_ids, w, b, args.k, args.min_co_rated, args.block)
    pq.write_table(table, args.out)
    print(f"{table.num_rows} neighbour rows for {len(user_ids)} eligible users")


if __name__ == "__main__":
    main()
