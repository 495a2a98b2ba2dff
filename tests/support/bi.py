"""bi/bundle.py and bi/ctl.py as modules for tests: bi/ is not a package, its scripts run in Superset's venv."""

from __future__ import annotations

import importlib.util
import sys
from pathlib import Path
from types import ModuleType

BI = Path(__file__).resolve().parents[2] / "bi"


def _load(name: str, path: Path) -> ModuleType:
    if name in sys.modules:
        return sys.modules[name]
    spec = importlib.util.spec_from_file_location(name, path)
    assert spec and spec.loader
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


bundle = _load("shop_bi_bundle", BI / "bundle.py")
ctl = _load("shop_bi_ctl", BI / "ctl.py")
