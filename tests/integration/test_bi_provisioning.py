"""Superset as code without Superset: bi/definitions load and validate, the bundle they make against a real
publish, the connection settings match the project's safe reader settings, and bi/ctl.py's refusals.
(tests/browser/test_superset_dashboard.py imports the bundle into a real Superset and looks at it.)"""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from shop_analytics.publish import ServingLayout, publish, sqlalchemy_connect_args
from support.bi import bundle
from support.pipeline import ROOT


@pytest.fixture(scope="module")
def serving_file(warehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    layout = ServingLayout(tmp_path_factory.mktemp("bi-serving"))
    publish(warehouse.path, layout, progress=False)
    return layout.serving_file


@pytest.fixture
def definitions_copy(tmp_path: Path) -> Path:
    folder = tmp_path / "definitions"
    shutil.copytree(bundle.DEFINITIONS, folder)
    return folder


def _edit_chart(folder: Path, name: str, **changes: object) -> None:
    path = folder / "charts" / f"{name}.yaml"
    data = yaml.safe_load(path.read_text())
    data.update(changes)
    path.write_text(yaml.safe_dump(data))


def test_connection_settings_are_the_projects_safe_reader_settings(monkeypatch: pytest.MonkeyPatch) -> None:
    for name in ("SHOP_ANALYTICS_READER_MEMORY_LIMIT", "SHOP_ANALYTICS_READER_TEMP_LIMIT"):
        monkeypatch.delenv(name, raising=False)
    definitions = bundle.load_definitions()
    assert bundle.connect_args(definitions) == sqlalchemy_connect_args()
    monkeypatch.setenv("SHOP_ANALYTICS_READER_MEMORY_LIMIT", "3GB")
    assert bundle.connect_args(definitions) == sqlalchemy_connect_args()
    monkeypatch.setenv("SHOP_ANALYTICS_READER_MEMORY_LIMIT", "3GB'; SET x")
    with pytest.raises(bundle.DefinitionError, match="not a size"):
        bundle.connect_args(definitions)


def test_bundle_from_the_repo_definitions(serving_file: Path) -> None:
    definitions = bundle.load_definitions()
    contents = bundle.build_bundle(definitions, serving_file)
    files = {name: yaml.safe_load(text) for name, text in contents.items()}
    assert files["metadata.yaml"]["type"] == "assets"
    database = files["databases/shop_analytics.yaml"]
    assert database["sqlalchemy_uri"] == f"duckdb:///{serving_file.resolve()}"
    assert database["cache_timeout"] == -1 and database["allow_dml"] is False
    assert database["extra"]["engine_params"] == {"connect_args": sqlalchemy_connect_args()}

    charts = {n: c for n, c in files.items() if n.startswith("charts/")}
    datasets = {c["uuid"]: c for n, c in files.items() if n.startswith("datasets/")}
    assert len(charts) == len(definitions.charts) and len(datasets) == len(definitions.datasets)
    for chart in charts.values():
        dataset = datasets[chart["dataset_uuid"]]  # every chart's dataset is in the bundle
        assert dataset["columns"], f"{dataset['table_name']}: no columns reflected"
        assert chart["is_managed_externally"] and dataset["database_uuid"] == database["uuid"]
    popularity = next(d for d in datasets.values() if d["table_name"] == "rpt_item_popularity")
    described = {c["column_name"]: c["description"] for c in popularity["columns"]}
    assert described["viewer_count"], "dbt's column docs (persist_docs) reach Superset"
    repeat = next(d for d in datasets.values() if d["table_name"] == "fct_same_day_repeat_purchases")
    assert repeat["main_dttm_col"] == "purchase_date"
    assert {c["column_name"] for c in repeat["columns"] if c["is_dttm"]} >= {"purchase_date", "first_ordered_at"}

    position = files["dashboards/shop_analytics.yaml"]["position"]
    placed = [v["meta"]["uuid"] for v in position.values() if isinstance(v, dict) and v.get("type") == "CHART"]
    assert sorted(placed) == sorted(c["uuid"] for c in charts.values())
    for node in position.values():
        if isinstance(node, dict) and node.get("type") == "ROW":
            assert sum(position[c]["meta"]["width"] for c in node["children"]) <= bundle.GRID_COLUMNS


def test_uuids_are_stable_and_distinct() -> None:
    first, again = bundle.load_definitions(), bundle.load_definitions()
    assert [c.uuid for c in first.charts] == [c.uuid for c in again.charts]
    ids = (
        [c.uuid for c in first.charts] + [d.uuid for d in first.datasets] + [first.database_uuid, first.dashboard_uuid]
    )
    assert len(set(ids)) == len(ids)


def test_a_chart_is_one_file(definitions_copy: Path, serving_file: Path) -> None:
    extra = {
        "title": "Items per category",
        "dataset": {"table": "marts.rpt_item_popularity"},
        "viz_type": "table",
        "position": {"row": 8, "width": 4, "height": 30},
        "params": {
            "query_mode": "aggregate",
            "groupby": ["category"],
            "metrics": [{"expressionType": "SQL", "sqlExpression": "count(*)", "label": "items"}],
        },
    }
    (definitions_copy / "charts" / "items_per_category.yaml").write_text(yaml.safe_dump(extra))
    definitions = bundle.load_definitions(definitions_copy)
    contents = bundle.build_bundle(definitions, serving_file)
    assert "charts/items_per_category.yaml" in contents
    # it shares the popularity chart's dataset rather than making a second one
    assert sum(1 for n in contents if n.startswith("datasets/")) == len(bundle.load_definitions().datasets)


@pytest.mark.parametrize(
    ("change", "message"),
    [
        ({"colour": "red"}, "unknown key"),
        ({"dataset": {"table": "marts.rpt_item_popularity; DROP TABLE x"}}, "schema.table"),
        ({"dataset": {"table": "rpt_item_popularity"}}, "schema.table"),
        ({"dataset": {"name": "Bad Name", "sql": "SELECT 1"}}, "lower_snake_case"),
        ({"dataset": {"name": "two", "sql": "SELECT 1; SELECT 2"}}, "one SELECT"),
        ({"params": {"datasource": "1__table"}}, "must not set datasource"),
        ({"position": {"row": 1, "width": 13, "height": 30}}, "width must be an integer from 1 to 12"),
        ({"position": {"row": 2, "width": 7, "height": 50}}, "columns wide"),
        ({"title": ""}, "title must be a non-empty string"),
    ],
)
def test_definition_errors_name_the_problem(definitions_copy: Path, change: dict, message: str) -> None:
    _edit_chart(definitions_copy, "top_items", **change)
    with pytest.raises(bundle.DefinitionError, match=message):
        bundle.load_definitions(definitions_copy)


def test_a_dataset_name_defined_twice_differently_is_refused(definitions_copy: Path) -> None:
    _edit_chart(definitions_copy, "top_items", dataset={"name": "rpt_item_trends_last_day", "sql": "SELECT 1"})
    with pytest.raises(bundle.DefinitionError, match="defined differently"):
        bundle.load_definitions(definitions_copy)


def test_a_missing_mart_or_serving_file_is_reported(definitions_copy: Path, serving_file: Path, tmp_path: Path) -> None:
    _edit_chart(definitions_copy, "top_items", dataset={"table": "marts.rpt_no_such_mart"})
    definitions = bundle.load_definitions(definitions_copy)
    with pytest.raises(bundle.DefinitionError, match=r"marts\.rpt_no_such_mart cannot be read"):
        bundle.build_bundle(definitions, serving_file)
    with pytest.raises(bundle.DefinitionError, match="run `make demo`"):
        bundle.build_bundle(definitions, tmp_path / "absent.duckdb")
    odd = tmp_path / "what?" / "shop_analytics.duckdb"
    odd.parent.mkdir()
    shutil.copy(serving_file, odd)
    with pytest.raises(bundle.DefinitionError, match="cannot carry"):
        bundle.build_bundle(bundle.load_definitions(), odd)


def test_zip_has_one_root_folder(serving_file: Path, tmp_path: Path) -> None:
    import zipfile

    contents = bundle.build_bundle(bundle.load_definitions(), serving_file)
    path = tmp_path / "bundle.zip"
    bundle.write_zip(contents, path)
    with zipfile.ZipFile(path) as archive:
        names = archive.namelist()
    assert {n.split("/")[0] for n in names} == {"shop_analytics_bundle"}
    assert sorted(n.split("/", 1)[1] for n in names) == sorted(contents)


def test_ctl_refuses_without_a_serving_file_and_stop_is_idempotent(tmp_path: Path) -> None:
    ctl = [sys.executable, str(ROOT / "bi" / "ctl.py")]
    up = subprocess.run(
        [*ctl, "up", "--home", str(tmp_path / "home"), "--serving-file", str(tmp_path / "none")],
        check=False,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert up.returncode == 1 and "run `make demo` first" in up.stderr
    assert not (tmp_path / "home").exists(), "nothing is initialized before the serving file exists"
    (tmp_path / "home").mkdir()
    (tmp_path / "home" / "superset.pid").write_text(json.dumps(1))  # pid 1 is not our gunicorn
    stop = subprocess.run(
        [*ctl, "stop", "--home", str(tmp_path / "home")], check=False, capture_output=True, text=True, timeout=60
    )
    assert stop.returncode == 0 and "was not running" in stop.stdout
    assert not (tmp_path / "home" / "superset.pid").exists()
