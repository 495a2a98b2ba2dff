"""Where the serving layer lives: the serving file, its kept versions and the Parquet exports."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass
from pathlib import Path

from shop_analytics.settings import Settings

SERVING_FILE_NAME = "shop_analytics.duckdb"
_VERSION_NAME = re.compile(r"^v(\d{6,})$")


def version_name(version: int) -> str:
    """`v000012` for version 12: zero-padded so names sort like numbers."""
    if version < 1:
        raise ValueError(f"publication versions start at 1, got {version}")
    return f"v{version:06d}"


def parse_version(name: str) -> int | None:
    """The version number in `v000012` or `v000012.duckdb`, or None for any other name."""
    match = _VERSION_NAME.match(name.removesuffix(".duckdb"))
    return int(match.group(1)) if match else None


@dataclass(frozen=True)
class ServingLayout:
    """Folders under one serving root (by default the folder that holds the dbt build file).

    ``serving/shop_analytics.duckdb`` is what readers open; it is a hard link to one of
    ``serving/versions/vNNNNNN.duckdb``. ``exports/vNNNNNN/<schema>/<table>.parquet`` holds
    the same version as Parquet and ``exports/current`` is a symlink to the published one.
    """

    root: Path

    @classmethod
    def from_env(cls, root: str | os.PathLike[str] | None = None) -> ServingLayout:
        """Layout at `root`, else $SHOP_ANALYTICS_SERVING_ROOT, else the build file's folder."""
        if root:
            return cls(Path(root).resolve())
        settings = Settings.from_env()
        return cls(settings.serving_root or settings.warehouse.parent)

    @property
    def serving_dir(self) -> Path:
        """Folder of the serving file, its versions and the publish lock."""
        return self.root / "serving"

    @property
    def serving_file(self) -> Path:
        """The file readers open (read-only)."""
        return self.serving_dir / SERVING_FILE_NAME

    @property
    def versions_dir(self) -> Path:
        """Kept versions of the serving file, for rollback."""
        return self.serving_dir / "versions"

    @property
    def lock_file(self) -> Path:
        """Held by a running publish or rollback; readers never touch it."""
        return self.serving_dir / ".publish.lock"

    @property
    def exports_dir(self) -> Path:
        """Versioned Parquet exports."""
        return self.root / "exports"

    @property
    def exports_current(self) -> Path:
        """Symlink to the published export version."""
        return self.exports_dir / "current"

    def version_file(self, version: int) -> Path:
        """The kept serving file of `version`."""
        return self.versions_dir / f"{version_name(version)}.duckdb"

    def export_dir(self, version: int) -> Path:
        """The Parquet export folder of `version`."""
        return self.exports_dir / version_name(version)
