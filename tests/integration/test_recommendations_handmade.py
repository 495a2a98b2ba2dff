"""Hand-made edge cases, landed through `shop-analytics import` with examples/mappings/ratings_simple.yml,
against the brute-force reference."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import duckdb
import pandas as pd
import pyarrow as pa
import pyarrow.parquet as pq
import pytest
from test_recommendations import assert_lists_equal, assert_similarity_equal

from oracles import recommendations as oracle
from shop_analytics.importing import import_file
from shop_analytics.ingest import ingest
from shop_analytics.quality.raw_contract import ITEMS, PAGE_VIEWS, PURCHASES
from shop_analytics.settings import DataLayout
from support.pipeline import dbt_env, ingest_settings, run_dbt

SETTINGS = oracle.Settings(neighbours_k=2, n_recommendations=3)
VARS = "{neighbours_k: 2, similarity_candidates_per_user: 6, n_recommendations: 3}"
T0 = dt.datetime(2020, 3, 1, 12, 0, 0)
RATINGS_MAPPING = Path(__file__).resolve().parents[2] / "examples" / "mappings" / "ratings_simple.yml"

# (user, item, stars, minutes after T0)
RATINGS = [
    (1, 10, 5, 0),  # one rating: no neighbours
    (2, 10, 3, 1),
    (2, 11, 3, 2),
    (2, 12, 3, 3),  # constant ratings: zero norm, no neighbours
    (3, 10, 5, 4),
    (3, 11, 5, 5),
    (3, 12, 4, 6),  # user 3 revises item 11 from 5 to 1 below
    (3, 99, 5, 7),  # item 99 has one rater
    (3, 11, 1, 60),
    (4, 10, 4, 8),
    (4, 11, 2, 9),
    (4, 13, 5, 10),  # co-rates exactly 2 items with user 3
    (5, 10, 5, 11),
    (5, 14, 1, 12),  # co-rates 1 item with user 3: below the minimum
    (6, 20, 5, 13),
    (6, 21, 1, 14),
    (6, 22, 3, 15),  # three identical candidate neighbours: a tie
    (7, 20, 4, 16),
    (7, 21, 2, 17),
    (7, 22, 3, 18),
    (7, 23, 5, 19),
    (7, 24, 5, 20),
    (8, 20, 4, 21),
    (8, 21, 2, 22),
    (8, 22, 3, 23),
    (8, 23, 5, 24),
    (8, 24, 5, 25),
    (9, 20, 4, 26),
    (9, 21, 2, 27),
    (9, 22, 3, 28),
    (9, 23, 5, 29),
    (9, 24, 5, 30),
]
VIEWS = [(1, 6, 25)]  # user 6 viewed item 25 ...
PURCHASES_ = [(1, 6, 24)]  # ... and bought item 24: neither may be recommended to them


def _land_events(landing: Path, batch: str) -> None:
    at = pa.array([T0 + dt.timedelta(minutes=90)], pa.timestamp("us"))
    views = pa.table(
        {"page_view_id": [VIEWS[0][0]], "viewed_at": at, "user_id": [str(VIEWS[0][1])], "item_id": [str(VIEWS[0][2])]},
        schema=PAGE_VIEWS.schema,
    )
    purchases = pa.table(
        {
            "purchase_id": [PURCHASES_[0][0]],
            "purchased_at": at,
            "user_id": [str(PURCHASES_[0][1])],
            "item_id": [str(PURCHASES_[0][2])],
            "quantity": pa.array([1], pa.int32()),
            "amount": [1.0],
        },
        schema=PURCHASES.schema,
    )
    _write_batch(views, landing / "page_views" / f"batch_date={batch}")
    _write_batch(purchases, landing / "purchases" / f"batch_date={batch}")
    # Items 25 and 24 must exist in the catalogue; 24 already does through the ratings.
    items = pa.table(
        {
            "item_id": ["25"],
            "category": ["books"],
            "page_url_path": ["/items/25"],
            "price": [1.0],
            "created_at": at,
            "name": ["Item 25"],
            "price_currency": ["USD"],
        },
        schema=ITEMS.schema,
    )
    _write_batch(items, landing / "items" / f"batch_date={batch}-extra")


def _write_batch(table: pa.Table, folder: Path) -> None:
    folder.mkdir(parents=True)
    pq.write_table(table, folder / "events.parquet")
    (folder / "_SUCCESS").touch()


@pytest.fixture(scope="module")
def handmade_build(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, dict[str, str], Path]:
    """The hand-made cases landed, ingested and built: (project root, dbt env, warehouse path)."""
    root = tmp_path_factory.mktemp("handmade")
    csv = root / "my_ratings.csv"
    frame = pd.DataFrame(RATINGS, columns=["user", "item", "stars", "minutes"])
    frame["ts"] = [T0 + dt.timedelta(minutes=m) for m in frame["minutes"]]
    frame.drop(columns="minutes").to_csv(csv, index=False)
    layout = DataLayout(root / "data")
    result = import_file(csv, RATINGS_MAPPING, "ratings", layout.landing, T0.strftime("%Y-%m-%d"))
    assert {b.source: b.rows for b in result.written} == {"users": 9, "items": 11, "ratings": len(RATINGS)}
    _land_events(layout.landing, T0.strftime("%Y-%m-%d"))
    ingest(layout, ingest_settings(layout.root))
    path = root / "warehouse.duckdb"
    env = dbt_env(layout, path)
    # No seed is a parent of the recommendation chain: the build needs no `dbt seed` before it.
    run_dbt(["build", "-s", "+rpt_recommendations", "+rpt_recommendation_evaluation", "--vars", VARS], env, root)
    return root, env, path


@pytest.fixture(scope="module")
def handmade(handmade_build: tuple[Path, dict[str, str], Path]) -> duckdb.DuckDBPyConnection:
    connection = duckdb.connect(str(handmade_build[2]), read_only=True)
    connection.execute("SET TimeZone = 'UTC'")
    return connection


@pytest.fixture(scope="module")
def handmade_self_join(
    handmade_build: tuple[Path, dict[str, str], Path], handmade: duckdb.DuckDBPyConnection
) -> duckdb.DuckDBPyConnection:
    """The similarity rebuilt, in a copy of the warehouse, by the SQL self_join engine."""
    root, env, path = handmade_build
    copy = root / "self_join.duckdb"
    copy.write_bytes(path.read_bytes())
    run_dbt(
        [
            "run",
            "-s",
            "int_user_similarity",
            "rpt_user_similarity",
            "--vars",
            VARS.rstrip("}") + ", similarity_engine: self_join}",
        ],
        {**env, "SHOP_ANALYTICS_WAREHOUSE": str(copy)},
        root,
    )
    return duckdb.connect(str(copy), read_only=True)


def _current() -> pd.DataFrame:
    frame = pd.DataFrame(RATINGS, columns=["user_id", "item_id", "rating", "minutes"])
    frame["rated_at"] = [T0 + dt.timedelta(minutes=m) for m in frame["minutes"]]
    frame["rating_id"] = range(1, len(frame) + 1)  # the mapping's row_number: file order
    # Keys are text in the warehouse (contract v2): the CSV's numbers arrive as their decimal text.
    frame[["user_id", "item_id"]] = frame[["user_id", "item_id"]].astype(str)
    return oracle.current_ratings(frame)


@pytest.mark.parametrize("engine", ["sparse", "self_join"])
def test_handmade_similarity_equals_brute_force(engine: str, request: pytest.FixtureRequest) -> None:
    built = request.getfixturevalue("handmade" if engine == "sparse" else "handmade_self_join")
    sql = built.execute("select * from marts.rpt_user_similarity").df()
    assert_similarity_equal(sql, oracle.similarity(_current(), SETTINGS))


@pytest.mark.parametrize("engine", ["sparse", "self_join"])
def test_handmade_edge_cases(engine: str, request: pytest.FixtureRequest) -> None:
    handmade = request.getfixturevalue("handmade" if engine == "sparse" else "handmade_self_join")
    pairs = {
        (u, v): (s, n)
        for u, v, s, n in handmade.execute(
            "select user_id, neighbour_id, similarity, n_co_rated from marts.rpt_user_similarity"
        ).fetchall()
    }
    users = {u for u, _ in pairs} | {v for _, v in pairs}
    # One rating and constant ratings: ineligible, never a neighbour, no NaN anywhere.
    assert "1" not in users and "2" not in users
    stats = dict(
        handmade.execute(
            "select user_id, is_similarity_eligible from intermediate.int_users__rating_stats where dataset = 'served'"
        ).fetchall()
    )
    assert stats["1"] is False and stats["2"] is False
    # The revision wins: user 3's current rating of item 11 is 1.
    assert (
        handmade.execute(
            "select rating from intermediate.int_ratings__current "
            "where dataset = 'served' and user_id = '3' and item_id = '11'"
        ).fetchone()[0]
        == 1
    )
    # Exactly min_co_rated co-rated items is enough; one fewer is not.
    assert pairs[("3", "4")][1] == 2 and ("4", "3") in pairs
    assert ("3", "5") not in pairs and ("5", "3") not in pairs
    # Three neighbours tie for user 6 with K = 2: the smaller ids win.
    six = sorted((v, s) for (u, v), (s, _) in pairs.items() if u == "6")
    assert [v for v, _ in six] == ["7", "8"]
    tied = handmade.execute(
        "select count(distinct round(similarity, 12)) from marts.rpt_user_similarity where user_id = 6"
    ).fetchone()[0]
    assert tied == 1


def test_handmade_recommendations(handmade: duckdb.DuckDBPyConnection) -> None:
    current = _current()
    neighbours = oracle.similarity(current, SETTINGS)
    seen = set(zip(current["user_id"], current["item_id"], strict=True)) | {("6", "25"), ("6", "24")}
    exact = oracle.knn_recommendations(current, neighbours, seen, SETTINGS)
    rows = handmade.execute(
        "select recommender, user_id, item_id, score, predicted_rating "
        "from marts.rpt_recommendations order by recommender, user_id, recommendation_rank"
    ).fetchall()
    for recommender in ("user_knn", "user_knn_predicted_rating"):
        got: dict[str, list[tuple[str, float]]] = {}
        for name, user, item, score, _ in rows:
            if name == recommender:
                got.setdefault(user, []).append((item, score))
        assert_lists_equal(got, exact[recommender])
    # Worked by hand: user 6 (mean 3) gets item 23 from neighbours 7 and 8 (mean 3.8, rated it 5):
    # 3 + (s * 1.2 + s * 1.2) / (2 s) = 4.2. Item 24 was bought and item 25 viewed: never shown.
    six = {item: pred for name, user, item, _, pred in rows if user == "6" and name == "user_knn_predicted_rating"}
    assert six == {"23": pytest.approx(4.2, abs=1e-12)}
    assert not {item for _, user, item, _, _ in rows if user == "6"} & {"24", "25", "20", "21", "22"}
    # The item with a single rater reaches user 4, whose only neighbour rated it.
    four = {item for name, user, item, _, _ in rows if user == "4" and name == "user_knn"}
    assert "99" in four


def test_handmade_evaluation_builds_without_test_data(handmade: duckdb.DuckDBPyConnection) -> None:
    # All events are after the default cutoff, so training is empty: the report is empty, not an error.
    assert handmade.execute("select count(*) from marts.rpt_recommendation_evaluation").fetchone()[0] == 0
    assert (
        handmade.execute("select count(*) from intermediate.int_recommendations where dataset = 'train'").fetchone()[0]
        == 0
    )
