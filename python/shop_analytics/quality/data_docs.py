"""GX Data Docs: render the validation results a context has collected into a static HTML site."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from great_expectations.data_context import AbstractDataContext

if TYPE_CHECKING:
    from great_expectations.data_context.store.store import DataDocsSiteConfigTypedDict

SITE_NAME = "shop_analytics_quality"


def build_data_docs(context: AbstractDataContext, out_dir: Path) -> Path:
    """Write the Data Docs site for `context`'s validation results into `out_dir`; return index.html."""
    out_dir = Path(out_dir).resolve()
    out_dir.mkdir(parents=True, exist_ok=True)
    site_config: DataDocsSiteConfigTypedDict = {
        "class_name": "SiteBuilder",
        "site_index_builder": {"class_name": "DefaultSiteIndexBuilder"},
        "store_backend": {"class_name": "TupleFilesystemStoreBackend", "base_directory": str(out_dir)},
    }
    sites = context.get_site_names()
    if SITE_NAME in sites:
        context.update_data_docs_site(SITE_NAME, site_config)
    else:
        context.add_data_docs_site(SITE_NAME, site_config)
    context.build_data_docs(site_names=[SITE_NAME])
    index = out_dir / "index.html"
    if not index.exists():
        raise RuntimeError(f"GX reported Data Docs built but {index} is missing")
    return index
