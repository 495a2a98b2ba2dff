"""Superset assets as code: bi/definitions/*.yaml -> a Superset import bundle (database, datasets, charts,
dashboard).

A chart is one file in definitions/charts/: its title, the table (or SQL) it reads, the Superset viz type
and form data, and where it sits on the dashboard. Datasets are derived from the charts (one per table or
named SQL), their columns are reflected from the serving file at provisioning time, so no column list is
kept in the repo. UUIDs are derived from the definitions' names, so provisioning again updates the same
objects. Runs with the standard library, PyYAML and duckdb (both in Superset's and the project's venv).
"""

from __future__ import annotations

import io
import json
import os
import re
import uuid
import zipfile
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import duckdb
import yaml

DEFINITIONS = Path(__file__).resolve().parent / "definitions"
# Fixed namespace: the UUID of every provisioned object is uuid5(NAMESPACE, "<kind>:<name>").
NAMESPACE = uuid.UUID("6f1d3c2e-5b0a-4e7e-9a51-3d1b7c0e8f42")
BUNDLE_VERSION = "1.0.0"
GRID_COLUMNS = 12
MEMORY_LIMIT_ENV = "SHOP_ANALYTICS_READER_MEMORY_LIMIT"  # docs/serving.md: memory of one reader

_NAME = re.compile(r"^[a-z][a-z0-9_]{0,62}$")
_IDENTIFIER = re.compile(r"^[A-Za-z_][A-Za-z0-9_]{0,62}$")
_MEMORY = re.compile(r"^\d+(\.\d+)?\s*(B|KB|MB|GB|TB|KiB|MiB|GiB|TiB)$", re.IGNORECASE)
_TEMPORAL = re.compile(r"^(DATE|TIMESTAMP|TIME)\b", re.IGNORECASE)


class DefinitionError(ValueError):
    """A definition file is missing, malformed or inconsistent (the message names the file)."""


@dataclass(frozen=True)
class Dataset:
    """A physical table of the serving file, or a named SELECT over it (a Superset virtual dataset)."""

    name: str  # Superset's table_name
    schema: str | None
    sql: str | None

    @property
    def key(self) -> str:
        """Identity of the dataset: its SQL name or its schema-qualified table."""
        return f"sql:{self.name}" if self.sql else f"table:{self.schema}.{self.name}"

    @property
    def uuid(self) -> str:
        """Stable UUID Superset imports the dataset under."""
        return str(uuid.uuid5(NAMESPACE, f"dataset:{self.key}"))

    def select(self) -> str:
        """A query with this dataset's columns (never executed, only described)."""
        return self.sql if self.sql else f'SELECT * FROM "{self.schema}"."{self.name}"'


@dataclass(frozen=True)
class Chart:
    """One chart file: what it shows, from which dataset, and where it sits on the dashboard."""

    name: str  # the file name without .yaml
    title: str
    description: str | None
    dataset: Dataset
    viz_type: str
    params: dict[str, Any]
    row: int
    width: int
    height: int

    @property
    def uuid(self) -> str:
        """Stable UUID Superset imports the chart under."""
        return str(uuid.uuid5(NAMESPACE, f"chart:{self.name}"))


@dataclass(frozen=True)
class Definitions:
    """Everything under bi/definitions, validated."""

    database: dict[str, Any]
    dashboard: dict[str, Any]
    charts: tuple[Chart, ...]

    @property
    def database_uuid(self) -> str:
        """Stable UUID of the serving-file database connection."""
        return str(uuid.uuid5(NAMESPACE, f"database:{self.database['name']}"))

    @property
    def dashboard_uuid(self) -> str:
        """Stable UUID of the dashboard."""
        return str(uuid.uuid5(NAMESPACE, f"dashboard:{self.dashboard['slug']}"))

    @property
    def datasets(self) -> tuple[Dataset, ...]:
        """The distinct datasets the charts read, in chart order."""
        seen: dict[str, Dataset] = {}
        for chart in self.charts:
            seen.setdefault(chart.dataset.key, chart.dataset)
        return tuple(seen.values())


# --- loading and validation ---------------------------------------------------------------------------


def _read_yaml(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except (OSError, yaml.YAMLError) as exc:
        raise DefinitionError(f"{path}: {exc}") from exc
    if not isinstance(data, dict):
        raise DefinitionError(f"{path}: expected a mapping at the top level")
    return data


def _keys(path: Path, data: dict[str, Any], required: set[str], optional: frozenset[str] = frozenset()) -> None:
    missing = required - data.keys()
    unknown = data.keys() - required - optional
    if missing:
        raise DefinitionError(f"{path}: missing {', '.join(sorted(missing))}")
    if unknown:
        raise DefinitionError(f"{path}: unknown key(s) {', '.join(sorted(map(str, unknown)))}")


def _text(path: Path, data: dict[str, Any], key: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value.strip():
        raise DefinitionError(f"{path}: {key} must be a non-empty string")
    return value.strip()


def _int(path: Path, data: dict[str, Any], key: str, low: int, high: int) -> int:
    value = data.get(key)
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        raise DefinitionError(f"{path}: {key} must be an integer from {low} to {high}, got {value!r}")
    return value


def _dataset(path: Path, spec: Any) -> Dataset:
    if not isinstance(spec, dict):
        raise DefinitionError(f"{path}: dataset must be a mapping with `table` or `name` and `sql`")
    if "table" in spec:
        _keys(path, spec, {"table"})
        parts = str(spec["table"]).split(".")
        if len(parts) != 2 or not all(_IDENTIFIER.match(p) for p in parts):
            raise DefinitionError(
                f"{path}: dataset.table must be schema.table (letters, digits, _), got {spec['table']!r}"
            )
        return Dataset(name=parts[1], schema=parts[0], sql=None)
    _keys(path, spec, {"name", "sql"})
    name, sql = _text(path, spec, "name"), _text(path, spec, "sql")
    if not _NAME.match(name):
        raise DefinitionError(f"{path}: dataset.name must be lower_snake_case, got {name!r}")
    if ";" in sql.rstrip().rstrip(";"):
        raise DefinitionError(f"{path}: dataset.sql must be one SELECT statement")
    return Dataset(name=name, schema=None, sql=sql.rstrip().rstrip(";"))


def _chart(path: Path) -> Chart:
    data = _read_yaml(path)
    _keys(path, data, {"title", "dataset", "viz_type", "position", "params"}, frozenset({"description"}))
    name = path.stem
    if not _NAME.match(name):
        raise DefinitionError(f"{path}: chart file names must be lower_snake_case.yaml")
    params = data["params"]
    if not isinstance(params, dict):
        raise DefinitionError(f"{path}: params must be a mapping (Superset form data)")
    if {"datasource", "viz_type"} & params.keys():
        raise DefinitionError(f"{path}: params must not set datasource or viz_type (they are filled in)")
    position = data["position"]
    if not isinstance(position, dict):
        raise DefinitionError(f"{path}: position must be a mapping {{row, width, height}}")
    _keys(path, position, {"row", "width", "height"})
    description = data.get("description")
    if description is not None and not isinstance(description, str):
        raise DefinitionError(f"{path}: description must be a string")
    return Chart(
        name=name,
        title=_text(path, data, "title"),
        description=description,
        dataset=_dataset(path, data["dataset"]),
        viz_type=_text(path, data, "viz_type"),
        params=params,
        row=_int(path, position, "row", 1, 100),
        width=_int(path, position, "width", 1, GRID_COLUMNS),
        height=_int(path, position, "height", 8, 200),
    )


def load_definitions(folder: Path = DEFINITIONS) -> Definitions:
    """Read and validate database.yaml, dashboard.yaml and charts/*.yaml under `folder`."""
    database_file, dashboard_file = folder / "database.yaml", folder / "dashboard.yaml"
    database = _read_yaml(database_file)
    _keys(database_file, database, {"name", "connect_args", "cache_timeout", "expose_in_sqllab"})
    _text(database_file, database, "name")
    if not isinstance(database["connect_args"], dict) or database["connect_args"].get("read_only") is not True:
        raise DefinitionError(f"{database_file}: connect_args must open the serving file with read_only: true")
    dashboard = _read_yaml(dashboard_file)
    _keys(dashboard_file, dashboard, {"title", "slug", "refresh_frequency"})
    _text(dashboard_file, dashboard, "title")
    if not re.match(r"^[a-z0-9][a-z0-9-]{0,63}$", str(dashboard["slug"])):
        raise DefinitionError(f"{dashboard_file}: slug must be lower-case letters, digits and -")
    _int(dashboard_file, dashboard, "refresh_frequency", 0, 86_400)
    charts = tuple(_chart(p) for p in sorted((folder / "charts").glob("*.yaml")))
    if not charts:
        raise DefinitionError(f"{folder / 'charts'}: no chart definitions (*.yaml)")
    by_name: dict[str, Dataset] = {}
    for chart in charts:
        other = by_name.setdefault(chart.dataset.name if chart.dataset.sql else chart.dataset.key, chart.dataset)
        if other != chart.dataset:
            raise DefinitionError(
                f"charts/{chart.name}.yaml: dataset {chart.dataset.name!r} is defined differently by another chart"
            )
    for row in sorted({c.row for c in charts}):
        width = sum(c.width for c in charts if c.row == row)
        if width > GRID_COLUMNS:
            raise DefinitionError(f"charts in row {row} are {width} columns wide; a row holds {GRID_COLUMNS}")
    return Definitions(database=database, dashboard=dashboard, charts=charts)


# --- the database connection -----------------------------------------------------------------------------


def connect_args(definitions: Definitions, environ: os._Environ[str] | dict[str, str] = os.environ) -> dict:
    """The engine's connect_args: database.yaml's, with $SHOP_ANALYTICS_READER_MEMORY_LIMIT applied."""
    args = json.loads(json.dumps(definitions.database["connect_args"]))  # a deep copy
    memory = environ.get(MEMORY_LIMIT_ENV)
    if memory:
        if not _MEMORY.match(memory.strip()):
            raise DefinitionError(f"{MEMORY_LIMIT_ENV}={memory!r} is not a size such as 2GB")
        args.setdefault("config", {})["memory_limit"] = memory.strip()
    return args


def sqlalchemy_uri(serving_file: Path) -> str:
    """duckdb:////abs/path; refuses paths that a URI cannot carry unescaped."""
    path = str(serving_file.resolve())
    if any(ch in path for ch in "?#%@") or any(ord(ch) < 32 for ch in path):
        raise DefinitionError(
            f"the serving file path {path!r} contains ?, #, %, @ or control characters, "
            "which a SQLAlchemy URI cannot carry; move the project or set BI_SERVING_FILE"
        )
    return f"duckdb:///{path}"


# --- reflection ------------------------------------------------------------------------------------------


def open_serving(serving_file: Path, definitions: Definitions) -> duckdb.DuckDBPyConnection:
    """The serving file with the same reader settings Superset will use."""
    args = connect_args(definitions)
    return duckdb.connect(str(serving_file), read_only=True, config=dict(args.get("config", {})))


def _columns(con: duckdb.DuckDBPyConnection, dataset: Dataset) -> list[dict[str, Any]]:
    try:
        relation = con.sql(dataset.select())
    except duckdb.Error as exc:
        where = (dataset.sql and f"dataset {dataset.name}") or f"table {dataset.schema}.{dataset.name}"
        raise DefinitionError(f"{where} cannot be read from the serving file: {exc}") from exc
    comments: dict[str, str] = {}
    if not dataset.sql:
        comments = dict(
            con.execute(
                "SELECT column_name, comment FROM duckdb_columns() WHERE schema_name = ? AND table_name = ? "
                "AND database_name = current_database() AND comment IS NOT NULL",
                [dataset.schema, dataset.name],
            ).fetchall()
        )
    return [
        {
            "column_name": name,
            "type": str(kind),
            "is_dttm": bool(_TEMPORAL.match(str(kind))),
            "is_active": True,
            "groupby": True,
            "filterable": True,
            "expression": None,
            "description": comments.get(name) or None,
            "verbose_name": None,
            "python_date_format": None,
            "extra": None,
        }
        for name, kind in zip(relation.columns, relation.types, strict=True)
    ]


def _table_comment(con: duckdb.DuckDBPyConnection, dataset: Dataset) -> str | None:
    if dataset.sql:
        return None
    row = con.execute(
        "SELECT comment FROM duckdb_tables() WHERE schema_name = ? AND table_name = ? "
        "AND database_name = current_database()",
        [dataset.schema, dataset.name],
    ).fetchone()
    return row[0] if row and row[0] else None


# --- the bundle ------------------------------------------------------------------------------------------


def _yaml(data: dict[str, Any]) -> str:
    return yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _position(definitions: Definitions) -> dict[str, Any]:
    """Superset's dashboard layout (position_json v2): one ROW per `row`, charts in file-name order."""
    position: dict[str, Any] = {
        "DASHBOARD_VERSION_KEY": "v2",
        "ROOT_ID": {"type": "ROOT", "id": "ROOT_ID", "children": ["GRID_ID"]},
        "GRID_ID": {"type": "GRID", "id": "GRID_ID", "children": [], "parents": ["ROOT_ID"]},
        "HEADER_ID": {"type": "HEADER", "id": "HEADER_ID", "meta": {"text": definitions.dashboard["title"]}},
    }
    for row in sorted({c.row for c in definitions.charts}):
        row_id = f"ROW-{row}"
        position["GRID_ID"]["children"].append(row_id)
        position[row_id] = {
            "type": "ROW",
            "id": row_id,
            "children": [],
            "parents": ["ROOT_ID", "GRID_ID"],
            "meta": {"background": "BACKGROUND_TRANSPARENT"},
        }
        for chart in (c for c in definitions.charts if c.row == row):
            chart_id = f"CHART-{chart.name}"
            position[row_id]["children"].append(chart_id)
            # chartId is a placeholder: the import maps it to the real id through the uuid.
            position[chart_id] = {
                "type": "CHART",
                "id": chart_id,
                "children": [],
                "parents": ["ROOT_ID", "GRID_ID", row_id],
                "meta": {
                    "chartId": definitions.charts.index(chart) + 1,
                    "uuid": chart.uuid,
                    "sliceName": chart.title,
                    "width": chart.width,
                    "height": chart.height,
                },
            }
    return position


def build_bundle(definitions: Definitions, serving_file: Path) -> dict[str, str]:
    """The import bundle as {path in the ZIP: YAML text}; reads the serving file's columns."""
    if not serving_file.is_file():
        raise DefinitionError(f"no serving file at {serving_file}: run `make demo` (or `shop-analytics publish`) first")
    database_name = definitions.database["name"]
    contents = {
        "metadata.yaml": _yaml(
            {"version": BUNDLE_VERSION, "type": "assets", "timestamp": datetime.now(UTC).isoformat()}
        )
    }
    contents["databases/shop_analytics.yaml"] = _yaml(
        {
            "database_name": database_name,
            "sqlalchemy_uri": sqlalchemy_uri(serving_file),
            "cache_timeout": definitions.database["cache_timeout"],
            "expose_in_sqllab": bool(definitions.database["expose_in_sqllab"]),
            "allow_run_async": False,
            "allow_ctas": False,
            "allow_cvas": False,
            "allow_dml": False,
            "allow_csv_upload": False,
            "impersonate_user": False,
            "extra": {
                "engine_params": {"connect_args": connect_args(definitions)},
                "metadata_params": {},
                "schemas_allowed_for_csv_upload": [],
            },
            "uuid": definitions.database_uuid,
            "version": BUNDLE_VERSION,
            "is_managed_externally": True,
        }
    )
    with open_serving(serving_file, definitions) as con:
        for dataset in definitions.datasets:
            columns = _columns(con, dataset)
            temporal = [c["column_name"] for c in columns if c["is_dttm"]]
            contents[f"datasets/shop_analytics/{dataset.name}.yaml"] = _yaml(
                {
                    "table_name": dataset.name,
                    "schema": dataset.schema,
                    "sql": dataset.sql,
                    "main_dttm_col": temporal[0] if temporal else None,
                    "description": _table_comment(con, dataset),
                    "default_endpoint": None,
                    "offset": 0,
                    "cache_timeout": None,
                    "filter_select_enabled": True,
                    "fetch_values_predicate": None,
                    "extra": None,
                    "normalize_columns": False,
                    "always_filter_main_dttm": False,
                    "uuid": dataset.uuid,
                    "metrics": [],
                    "columns": columns,
                    "version": BUNDLE_VERSION,
                    "database_uuid": definitions.database_uuid,
                    "is_managed_externally": True,
                }
            )
    for chart in definitions.charts:
        contents[f"charts/{chart.name}.yaml"] = _yaml(
            {
                "slice_name": chart.title,
                "description": chart.description,
                "viz_type": chart.viz_type,
                "params": {**chart.params, "viz_type": chart.viz_type},
                "query_context": None,
                "cache_timeout": None,
                "uuid": chart.uuid,
                "version": BUNDLE_VERSION,
                "dataset_uuid": chart.dataset.uuid,
                "is_managed_externally": True,
            }
        )
    contents["dashboards/shop_analytics.yaml"] = _yaml(
        {
            "dashboard_title": definitions.dashboard["title"],
            "description": None,
            "css": "",
            "slug": definitions.dashboard["slug"],
            "uuid": definitions.dashboard_uuid,
            "position": _position(definitions),
            "metadata": {
                "refresh_frequency": definitions.dashboard["refresh_frequency"],
                "timed_refresh_immune_slices": [],
                "expanded_slices": {},
                "color_scheme": "",
                "label_colors": {},
                "shared_label_colors": [],
                "color_scheme_domain": [],
                "cross_filters_enabled": False,
                "native_filter_configuration": [],
                "default_filters": "{}",
                "chart_configuration": {},
            },
            "version": BUNDLE_VERSION,
            "published": True,
            "is_managed_externally": True,
        }
    )
    return contents


def write_zip(contents: dict[str, str], path: Path) -> None:
    """The bundle as the ZIP Superset exports and imports (everything under one root folder)."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, text in contents.items():
            archive.writestr(f"shop_analytics_bundle/{name}", text)
    tmp = path.with_name(f".{path.name}.tmp")
    tmp.write_bytes(buffer.getvalue())
    os.replace(tmp, path)
