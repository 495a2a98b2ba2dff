"""dbt's Jinja context for sqlfluff's jinja templater (`library_path` in `.sqlfluff`).

sqlfluff exposes every public name of this package to the templates it lints.
sqlfluff's own dbt builtins (`apply_dbt_builtins`) supply ref, source, config,
is_incremental, this, return and tojson; this package adds what they lack or
get wrong for this project: `var` with the real defaults of dbt_project.yml
(so loops and bounds render as they do in dbt), env_var, modules, exceptions,
adapter.dispatch, target, log and execute. `execute` is false, as in dbt's
parse phase, so macros that query the warehouse (recs_similarity_plan) return
their parse-time default instead of running a query.
"""

from __future__ import annotations

import datetime as _datetime
import itertools as _itertools
import os as _os
import re as _re
from pathlib import Path as _Path
from types import SimpleNamespace as _Namespace
from typing import Any as _Any

import jinja2 as _jinja2
import yaml as _yaml

_PROJECT_FILE = _Path(__file__).resolve().parents[2] / "dbt_project.yml"
_PROJECT_VARS: dict[str, _Any] = _yaml.safe_load(_PROJECT_FILE.read_text())["vars"]


class CompilationError(Exception):
    """A model called exceptions.raise_compiler_error: lint reports it as a templating failure."""


def var(name: str, default: _Any = None) -> _Any:
    """Return the var's default from dbt_project.yml, else `default`, like dbt's var macro."""
    if name in _PROJECT_VARS:
        return _PROJECT_VARS[name]
    if default is None:
        raise CompilationError(f"var {name!r} is not defined in dbt_project.yml and has no default")
    return default


def env_var(name: str, default: str | None = None) -> str:
    """Return the environment variable, else `default`, else a placeholder, like dbt's env_var macro."""
    return _os.environ.get(name, default if default is not None else f"env_var_{name}")


def _raise_compiler_error(message: str) -> None:
    raise CompilationError(message)


def _log(message: str, info: bool = False) -> str:
    return ""


def _run_query(sql: str) -> None:
    raise CompilationError("run_query() needs a warehouse; guard it with `if execute` (execute is false in lint)")


class _Adapter:
    """adapter.dispatch(): the duckdb__ implementation of a macro, else its default__."""

    @_jinja2.pass_context
    def dispatch(self, context: _jinja2.runtime.Context, macro_name: str, macro_namespace: str | None = None) -> _Any:
        for prefix in ("duckdb__", "default__"):
            macro = context.get(prefix + macro_name)
            if macro is not None:
                return macro
        raise CompilationError(f"adapter.dispatch: no duckdb__ or default__ implementation of {macro_name!r}")

    def quote(self, identifier: str) -> str:
        """adapter.quote(): DuckDB's double quotes."""
        return '"' + identifier.replace('"', '""') + '"'


execute = False
adapter = _Adapter()
log = _log
run_query = _run_query
exceptions = _Namespace(raise_compiler_error=_raise_compiler_error, warn=_log)
modules = _Namespace(re=_re, datetime=_datetime, itertools=_itertools)
target = _Namespace(name="dev", type="duckdb", schema="main", database="shop_analytics", threads=1)
