"""Exact user-user mean-centred cosine, top-K per user, as a blocked sparse product.

    sim(u, v) = sum_{i in I_uv} d_ui * d_vi / (||d_u|| * ||d_v||)

With W the matrix of centred ratings divided by each user's norm, the
similarities of a block of users are one row block of W · Wᵀ, and the co-rated
counts the same block of B · Bᵀ (B the 0/1 rating pattern). scipy multiplies
sparse by sparse, so a block costs what the self-join on item costs for those
users (sum over their items of the raters), but in compiled code with no
per-pair hash aggregation. Memory is the two sparse matrices plus two dense
blocks of ``block_rows x users``.

The rules are those of the SQL self-join engine (models/intermediate/
recommendations/similarity_self_join/int_user_similarity.sql), so the two
engines give the same table: similarities are clamped to [-1, 1]; a pair
needs ``min_co_rated`` co-rated items and a similarity that is positive after
rounding to 12 decimals; the top ``k`` per user are ranked by the similarity
rounded to 12 decimals, then by the smaller neighbour id.
"""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor

import numpy as np
import pyarrow as pa
import scipy.sparse as sp

# Dense cells per block (similarities and counts): ~64 MiB of float64 each, per thread.
DEFAULT_BLOCK_CELLS = 8_000_000
# Ranking precision: sums of the same products in another order differ in the
# last bits, and must not reorder neighbours.
RANK_DECIMALS = 12

NEIGHBOURS_SCHEMA = pa.schema(
    [
        ("user_id", pa.string()),
        ("neighbour_id", pa.string()),
        ("similarity", pa.float64()),
        ("n_co_rated", pa.int32()),
        ("neighbour_rank", pa.int32()),
    ]
)


def _matrices(ratings: pa.Table) -> tuple[np.ndarray, sp.csr_matrix, sp.csr_matrix]:
    """User ids (sorted) and the row-normalised centred matrix W and pattern B, users x items."""
    # Text natural keys; np.unique sorts them by code point, the order DuckDB gives VARCHAR,
    # so the column tie-break (neighbour id ascending) matches the SQL engine's.
    users = ratings["user_id"].cast(pa.string()).to_numpy(zero_copy_only=False)
    items = ratings["item_id"].cast(pa.string()).to_numpy(zero_copy_only=False)
    centred = ratings["centred_rating"].to_numpy().astype(np.float64, copy=False)
    norms = ratings["user_norm"].to_numpy().astype(np.float64, copy=False)
    if not np.all(np.isfinite(centred)) or not np.all(norms > 0):
        raise ValueError(
            "similarity input needs finite centred ratings and positive user norms (only similarity-eligible users)"
        )
    user_ids, rows = np.unique(users, return_inverse=True)
    _, cols = np.unique(items, return_inverse=True)
    shape = (len(user_ids), int(cols.max()) + 1 if len(cols) else 0)
    w = sp.csr_matrix((centred / norms, (rows, cols)), shape=shape)
    b = sp.csr_matrix((np.ones(len(rows), dtype=np.int32), (rows, cols)), shape=shape)
    # COO -> CSR sums duplicate (user, item) entries silently; the pattern matrix exposes them.
    if b.nnz != len(rows):
        raise ValueError("similarity input has duplicate (user_id, item_id) rows")
    return user_ids, w, b


def _block_top_k(
    sims: np.ndarray, counts: np.ndarray, first_row: int, k: int, min_co_rated: int
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(row, column, rank) of each row's top-k eligible neighbours in one dense block (masks sims in place)."""
    n_rows, n_cols = sims.shape
    np.putmask(sims, counts < min_co_rated, -np.inf)
    sims[np.arange(n_rows), np.arange(n_rows) + first_row] = -np.inf
    if k < n_cols:
        part = np.argpartition(sims, n_cols - k, axis=1)[:, n_cols - k :]
        kth = np.take_along_axis(sims, part, axis=1).min(axis=1)
    else:
        kth = np.full(n_rows, -np.inf)
    # A superset: everything that can tie with the k-th value once rounded.
    # Rounding and the (value desc, column asc) order are applied to it only.
    floor = np.maximum(kth - 10.0 ** -(RANK_DECIMALS - 1), 0.0)
    rows, cols = np.nonzero(sims > floor[:, None])
    ranked = np.round(sims[rows, cols], RANK_DECIMALS)
    positive = ranked > 0
    rows, cols, ranked = rows[positive], cols[positive], ranked[positive]
    order = np.lexsort((cols, -ranked, rows))
    rows, cols = rows[order], cols[order]
    rank = np.arange(len(rows)) - np.searchsorted(rows, rows, side="left") + 1
    keep = rank <= k
    return rows[keep], cols[keep], rank[keep]


def _block(
    w: sp.csr_matrix,
    wt: sp.csr_matrix,
    b: sp.csr_matrix,
    bt: sp.csr_matrix,
    user_ids: np.ndarray,
    start: int,
    stop: int,
    k: int,
    min_co_rated: int,
) -> pa.RecordBatch:
    sims = (w[start:stop] @ wt).toarray()
    counts = (b[start:stop] @ bt).toarray()
    rows, cols, rank = _block_top_k(sims, counts, start, k, min_co_rated)
    return pa.record_batch(
        [
            pa.array(user_ids[rows + start], pa.string()),
            pa.array(user_ids[cols], pa.string()),
            pa.array(np.clip(sims[rows, cols], -1.0, 1.0)),
            pa.array(counts[rows, cols].astype(np.int32)),
            pa.array(rank.astype(np.int32)),
        ],
        schema=NEIGHBOURS_SCHEMA,
    )


def top_k_neighbours(
    ratings: pa.Table, k: int, min_co_rated: int, block_cells: int = DEFAULT_BLOCK_CELLS, threads: int = 2
) -> pa.Table:
    """Top-k positive neighbours per user from centred ratings (user_id, item_id, centred_rating, user_norm)."""
    if k < 1 or min_co_rated < 1:
        raise ValueError(f"need k >= 1 and min_co_rated >= 1, got k={k}, min_co_rated={min_co_rated}")
    missing = {"user_id", "item_id", "centred_rating", "user_norm"} - set(ratings.column_names)
    if missing:
        raise ValueError(f"similarity input lacks columns {sorted(missing)}")
    user_ids, w, b = _matrices(ratings)
    n = len(user_ids)
    wt, bt = w.T.tocsr(), b.T.tocsr()
    block = max(1, block_cells // max(n, 1))
    bounds = [(start, min(start + block, n)) for start in range(0, n, block)]
    # scipy's sparse product and NumPy's partition release the GIL, so threads
    # use every core; each holds one block.
    with ThreadPoolExecutor(max_workers=max(1, threads)) as pool:
        parts = list(
            pool.map(lambda bound: _block(w, wt, b, bt, user_ids, bound[0], bound[1], k, min_co_rated), bounds)
        )
    return pa.Table.from_batches(parts, schema=NEIGHBOURS_SCHEMA)
