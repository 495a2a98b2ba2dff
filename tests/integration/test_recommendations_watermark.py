"""Recommendations retrain when their inputs change, and say what they were trained through (docs/incremental.md).

The shared SMALL pipeline is copied and its recommendation marts built: they carry the ingest
watermark they were trained through, and the dbt test trained_through_every_input_batch passes.
Then the next day lands and is ingested, and the check must fail on the tables built before it
(stale), still fail after `--select rpt_recommendations` alone (its parents did not retrain, so it
must not claim the new batches), and pass once the whole chain is built again.

That build retrains only the models whose inputs changed: the next day brings page views and order
lines but no rating, so the ratings side (current ratings, their stats and centring, the user
similarity) keeps its tables, and the affinity side retrains. Every table then equals a full
retrain of the same lake in a fresh warehouse, row for row. A build with no new batch retrains
nothing; a changed var retrains the models whose code it is in, and what is built on them.
"""

from __future__ import annotations

import random
import re
import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from shop_analytics.datagen.next_day import next_day
from shop_analytics.settings import DataLayout
from shop_analytics.warehouse.incremental_state import read_watermarks
from support.engine_parity import assert_same_rows, duckdb_table
from support.gate_v2_data import ingest
from support.handmade_landing import audit
from support.pipeline import BIN, ROOT, Pipeline, dbt_env, killed_dbt, run_dbt

MARTS = ("rpt_recommendations", "rpt_recommendation_evaluation")
CHAIN = ["--select", "+rpt_recommendations +rpt_recommendation_evaluation"]
CHECK = ["--select", "test_name:trained_through_every_input_batch"]
# The models built whole when their inputs change (materialization retrained_table, or
# insert_by_bucket with retrain_when_inputs_change), by what they read.
RATINGS_SIDE = {
    "int_ratings__current",
    "int_users__rating_stats",
    "int_ratings__centred",
    "int_user_similarity",
    "rpt_user_similarity",
}
AFFINITY_SIDE = {
    "int_user_item_affinity",
    "int_item_similarity",
    "int_recommendations__test_relevant",
    "int_recommendations",
    "fct_user_item_affinity",
}
RETRAINED = RATINGS_SIDE | AFFINITY_SIDE
SCHEMAS = {"rpt": "marts", "fct": "marts", "int": "intermediate"}
# The models whose compiled code holds var neighbours_k, and the retrained models built on them.
NEIGHBOURS_K = {"int_user_similarity", "rpt_user_similarity", "int_recommendations"}


@dataclass(frozen=True)
class Retrained:
    """One warehouse through the steps of the module docstring, with what each step saw."""

    first_high: int  # the audit's highest commit_seq when the chain was first built
    next_high: int  # ... after the next day was ingested
    trained: dict[str, list[int]]  # step -> trained_through_commit_seq of MARTS, in order
    check_codes: dict[str, int]  # step -> exit code of `dbt test` of the check
    watermarks: dict[str, dict[str, int]]  # step -> consumed_through per model
    kept: dict[str, set[str]]  # build step -> the models it did not retrain (inputs unchanged)
    sources_of_next_day: set[str]  # lake sources of the batches the next day added
    differences: dict[str, str]  # retrained model -> how its table differs from a fresh full build's ('' if not)
    untracked: dict[str, str]  # model -> the parents it logged as having no input key, when a parent's key was lost
    layout: DataLayout  # the lake after the next day
    first_build: Path  # a copy of the warehouse as the first build left it
    fresh: Path  # the full retrain of the lake after the next day


def _high(root: Path) -> int:
    return max(row["commit_seq"] for row in audit(root).values() if row["commit_seq"] is not None)


def _trained(warehouse: Path) -> list[int]:
    with duckdb.connect(str(warehouse), read_only=True) as con:
        return [
            con.execute(f"SELECT DISTINCT trained_through_commit_seq FROM marts.{mart}").fetchall()[0][0]
            for mart in MARTS
        ]


def _dbt_code(args: list[str], env: dict[str, str], work: Path) -> int:
    """Exit code of a dbt command that may fail (run_dbt raises on failure)."""
    command = [str(BIN / "dbt"), *args, "--target-path", str(work / "target"), "--log-path", str(work / "logs")]
    return subprocess.run(command, cwd=ROOT, env=env, capture_output=True, text=True).returncode


def _kept(build: subprocess.CompletedProcess) -> set[str]:
    """The models a dbt build logged as not retrained."""
    return set(re.findall(r"(\w+): inputs unchanged \(through commit_seq \d+\): not retrained", build.stdout))


def _untracked(run: subprocess.CompletedProcess) -> dict[str, str]:
    """The models a dbt run logged as retrained for lack of their parents' input keys, with those parents."""
    return dict(re.findall(r"(\w+): retrained on every build: no input key for ([\w.,\s]+?)\s*$", run.stdout, re.M))


def _difference(kept: Path, fresh: Path, model: str) -> str:
    """How `model` differs between two warehouses, row for row, floats within rel 1e-9 ('' when it does not)."""
    relation = f"{SCHEMAS[model[:3]]}.{model}"
    try:
        assert_same_rows(model, duckdb_table(kept, relation), duckdb_table(fresh, relation), ("kept", "fresh"))
    except AssertionError as difference:
        return str(difference)
    return ""


@pytest.fixture(scope="module")
def retrained(pipeline: Pipeline, tmp_path_factory: pytest.TempPathFactory) -> Retrained:
    work = tmp_path_factory.mktemp("recs_watermark")
    layout = DataLayout(work / "data")
    shutil.copytree(pipeline.layout.root, layout.root)
    warehouse = work / "warehouse" / "warehouse.duckdb"
    warehouse.parent.mkdir()
    env = dbt_env(layout, warehouse)
    trained, codes, watermarks = {}, {}, {}
    run_dbt(["build", *CHAIN], env, warehouse.parent)  # its tests (the check included) must pass
    first_high = _high(layout.root)
    first_build = work / "first" / "warehouse.duckdb"
    first_build.parent.mkdir()
    shutil.copyfile(warehouse, first_build)
    trained["first"], watermarks["first"] = _trained(warehouse), read_watermarks(warehouse)
    next_day(layout.landing, layout.lake)
    code, out, err = ingest(layout.root)
    assert code in (0, 3), (out, err)
    codes["stale"] = _dbt_code(["test", *CHECK], env, warehouse.parent)
    # The marts alone: their parents still hold the first horizon, so the check still fails.
    run_dbt(["run", "--select", " ".join(MARTS)], env, warehouse.parent)
    codes["marts_only"] = _dbt_code(["test", *CHECK], env, warehouse.parent)
    trained["marts_only"], watermarks["marts_only"] = _trained(warehouse), read_watermarks(warehouse)
    kept = {"next_day": _kept(run_dbt(["build", *CHAIN], env, warehouse.parent))}
    trained["retrained"], watermarks["retrained"] = _trained(warehouse), read_watermarks(warehouse)
    codes["retrained"] = _dbt_code(["test", *CHECK], env, warehouse.parent)
    sources = {row["source"] for row in audit(layout.root).values() if (row["commit_seq"] or 0) > first_high}
    # The same lake, retrained from nothing in a fresh warehouse.
    fresh = work / "fresh" / "warehouse.duckdb"
    fresh.parent.mkdir()
    run_dbt(["build", *CHAIN], dbt_env(layout, fresh), fresh.parent)
    # Floats within rel 1e-9: DuckDB's parallel sums may differ in the last bits from run to run.
    differences = {model: _difference(warehouse, fresh, model) for model in sorted(RETRAINED)}
    kept["no_new_batch"] = _kept(run_dbt(["run", *CHAIN], env, warehouse.parent))
    kept["changed_var"] = _kept(run_dbt(["run", *CHAIN, "--vars", "{neighbours_k: 7}"], env, warehouse.parent))
    kept["full_refresh"] = _kept(run_dbt(["run", *CHAIN, "--full-refresh"], env, warehouse.parent))
    # A parent table whose input key is lost (built before keys were recorded, say): its child cannot
    # know what it was built from, so it retrains and says which parent is why.
    with duckdb.connect(str(warehouse)) as con:
        con.execute("DELETE FROM _shop_meta.retrain_inputs WHERE model = 'int_ratings__current'")
    lost = run_dbt(["run", "--select", "int_users__rating_stats"], env, warehouse.parent)
    kept["lost_parent_key"] = _kept(lost)
    untracked = _untracked(lost)
    return Retrained(
        first_high,
        _high(layout.root),
        trained,
        codes,
        watermarks,
        kept,
        sources,
        differences,
        untracked,
        layout,
        first_build,
        fresh,
    )


def test_the_marts_carry_the_watermark_they_were_trained_through(retrained: Retrained) -> None:
    assert retrained.trained["first"] == [retrained.first_high] * len(MARTS)
    assert retrained.trained["retrained"] == [retrained.next_high] * len(MARTS)
    assert retrained.next_high > retrained.first_high, "the next day added no batch"


def test_every_retrained_model_records_its_watermark(retrained: Retrained) -> None:
    chain = {
        "int_ratings__current",
        "int_users__rating_stats",
        "int_ratings__centred",
        "int_user_similarity",
        "int_user_item_affinity",
        "int_recommendations__test_relevant",
        "int_recommendations",
        *MARTS,
    }
    for step, high in (("first", retrained.first_high), ("retrained", retrained.next_high)):
        assert {model: retrained.watermarks[step].get(model) for model in chain} == dict.fromkeys(chain, high), step


def test_the_check_fails_on_stale_recommendations(retrained: Retrained) -> None:
    assert retrained.check_codes["stale"] != 0
    assert retrained.check_codes["retrained"] == 0


def test_marts_rebuilt_over_stale_parents_do_not_claim_the_new_batches(retrained: Retrained) -> None:
    assert retrained.check_codes["marts_only"] != 0
    assert retrained.trained["marts_only"] == [retrained.first_high] * len(MARTS)
    assert retrained.watermarks["marts_only"]["int_recommendations"] == retrained.first_high


def test_a_build_retrains_only_the_models_whose_inputs_changed(retrained: Retrained) -> None:
    assert "ratings" not in retrained.sources_of_next_day, "the next day brought ratings: nothing to keep"
    assert {"page_views", "order_lines"} <= retrained.sources_of_next_day
    assert retrained.kept["next_day"] == RATINGS_SIDE


def test_kept_and_retrained_tables_equal_a_full_retrain(retrained: Retrained) -> None:
    assert retrained.differences == dict.fromkeys(sorted(RETRAINED), "")


def test_a_build_with_no_new_batch_retrains_nothing(retrained: Retrained) -> None:
    assert retrained.kept["no_new_batch"] == RETRAINED


def test_a_changed_var_retrains_the_models_it_reaches(retrained: Retrained) -> None:
    assert retrained.kept["changed_var"] == RETRAINED - NEIGHBOURS_K


def test_full_refresh_retrains_everything(retrained: Retrained) -> None:
    assert retrained.kept["full_refresh"] == set()


def test_a_parent_without_an_input_key_retrains_its_child_and_is_named(retrained: Retrained) -> None:
    assert retrained.kept["lost_parent_key"] == set()
    assert retrained.untracked == {"int_users__rating_stats": "model.shop_analytics.int_ratings__current"}


def test_builds_killed_inside_retrained_models_converge(retrained: Retrained, tmp_path: Path) -> None:
    """The next day's build killed inside retrained models and between them, one kill after the other on the
    first build's warehouse, then built again: every retrained table equals the full retrain, and the marts
    claim the new batches.

    A retrained model forgets its input key (committed) before it builds, builds under a temporary
    name and swaps the table in with its watermark in one commit, and records the new key after that
    commit; whatever a kill leaves, the next build retrains what it cannot prove current.
    """
    warehouse = tmp_path / "warehouse.duckdb"
    shutil.copyfile(retrained.first_build, warehouse)
    env = dbt_env(retrained.layout, warehouse)
    rng = random.Random(29)
    kills = [
        # Between models: as soon as dbt reports the affinity built, before its children finish.
        (r"OK created sql retrained_table model intermediate\.int_user_item_affinity ", 0.0),
        (r"START sql retrained_table model intermediate\.int_item_similarity ", rng.uniform(0.0, 1.0)),
        (r"START sql insert_by_bucket model intermediate\.int_recommendations ", rng.uniform(0.0, 1.0)),
    ]
    for line, delay in kills:
        assert killed_dbt(["build", *CHAIN], env, tmp_path, line, delay), f"dbt finished before the kill ({line})"
    run_dbt(["build", *CHAIN], env, tmp_path)  # its tests, the watermark check among them, pass
    assert _trained(warehouse) == [retrained.next_high] * len(MARTS)
    differences = {model: _difference(warehouse, retrained.fresh, model) for model in sorted(RETRAINED)}
    assert differences == dict.fromkeys(sorted(RETRAINED), "")
