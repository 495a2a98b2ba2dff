"""Recommendations retrain in full, and say what they were trained through (docs/incremental.md).

The shared SMALL pipeline is copied and its recommendation marts built: they carry the ingest
watermark they were trained through, and the dbt test trained_through_every_input_batch passes.
Then the next day lands and is ingested, and the check must fail on the tables built before it
(stale), still fail after `--select rpt_recommendations` alone (its parents did not retrain, so it
must not claim the new batches), and pass once the whole chain retrains.
"""

from __future__ import annotations

import shutil
import subprocess
from dataclasses import dataclass
from pathlib import Path

import duckdb
import pytest

from shop_analytics.datagen.next_day import next_day
from shop_analytics.settings import DataLayout
from shop_analytics.warehouse.incremental_state import read_watermarks
from support.gate_v2_data import ingest
from support.handmade_landing import audit
from support.pipeline import BIN, ROOT, Pipeline, dbt_env, run_dbt

MARTS = ("rpt_recommendations", "rpt_recommendation_evaluation")
CHAIN = ["--select", "+rpt_recommendations +rpt_recommendation_evaluation"]
CHECK = ["--select", "test_name:trained_through_every_input_batch"]


@dataclass(frozen=True)
class Retrained:
    """One warehouse through the steps of the module docstring, with what each step saw."""

    first_high: int  # the audit's highest commit_seq when the chain was first built
    next_high: int  # ... after the next day was ingested
    trained: dict[str, list[int]]  # step -> trained_through_commit_seq of MARTS, in order
    check_codes: dict[str, int]  # step -> exit code of `dbt test` of the check
    watermarks: dict[str, dict[str, int]]  # step -> consumed_through per model


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
    trained["first"], watermarks["first"] = _trained(warehouse), read_watermarks(warehouse)
    next_day(layout.landing, layout.lake)
    code, out, err = ingest(layout.root)
    assert code in (0, 3), (out, err)
    codes["stale"] = _dbt_code(["test", *CHECK], env, warehouse.parent)
    # The marts alone: their parents still hold the first horizon, so the check still fails.
    run_dbt(["run", "--select", " ".join(MARTS)], env, warehouse.parent)
    codes["marts_only"] = _dbt_code(["test", *CHECK], env, warehouse.parent)
    trained["marts_only"], watermarks["marts_only"] = _trained(warehouse), read_watermarks(warehouse)
    run_dbt(["build", *CHAIN], env, warehouse.parent)
    trained["retrained"], watermarks["retrained"] = _trained(warehouse), read_watermarks(warehouse)
    codes["retrained"] = _dbt_code(["test", *CHECK], env, warehouse.parent)
    return Retrained(first_high, _high(layout.root), trained, codes, watermarks)


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
