"""GX Data Docs: render the validation results a context has collected into a static HTML site that works offline.

GX 1.24.1's page templates load jQuery, Bootstrap, bootstrap-table and more from public CDNs, and its logo
from S3. After GX writes the site, every such reference is pointed at a copy shipped in data_docs_assets/
(or at GX's own static/ folder), so the pages render with no network. A reference this module does not
know fails the build: a GX upgrade that adds one cannot silently break the docs.
"""

from __future__ import annotations

import base64
import hashlib
import re
import shutil
from importlib.resources import as_file, files
from pathlib import Path
from typing import TYPE_CHECKING

from great_expectations.data_context import AbstractDataContext

if TYPE_CHECKING:
    from great_expectations.data_context.store.store import DataDocsSiteConfigTypedDict

SITE_NAME = "shop_analytics_quality"
ASSETS_PACKAGE_DIR = "data_docs_assets"
SITE_VENDOR_DIR = "static/vendor/"  # where the vendored files land in the site

# Every CDN file GX 1.24.1's templates reference, and its copy under data_docs_assets/ (README.md there).
CDN_ASSETS: dict[str, str] = {
    "https://code.jquery.com/jquery-3.7.1.min.js": "jquery-3.7.1/jquery.min.js",
    "https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js": "popper.js-1.12.9/popper.min.js",
    "https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js": "bootstrap-4.3.1/bootstrap.min.js",
    "https://maxcdn.bootstrapcdn.com/bootstrap/4.3.1/css/bootstrap.min.css": "bootstrap-4.3.1/bootstrap.min.css",
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.js": (
        "bootstrap-table-1.19.1/bootstrap-table.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css": (
        "bootstrap-table-1.19.1/bootstrap-table.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.1/dist/extensions/filter-control/bootstrap-table-filter-control.min.js": (
        "bootstrap-table-1.19.1/bootstrap-table-filter-control.min.js"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.min.css": (
        "bootstrap-table-1.19.0/bootstrap-table-filter-control.min.css"
    ),
    "https://unpkg.com/bootstrap-table@1.19.0/dist/extensions/filter-control/bootstrap-table-filter-control.css": (
        "bootstrap-table-1.19.0/bootstrap-table-filter-control.css"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/js/bootstrap-datepicker.min.js": (
        "bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.js"
    ),
    "https://cdnjs.cloudflare.com/ajax/libs/bootstrap-datepicker/1.9.0/css/bootstrap-datepicker.min.css": (
        "bootstrap-datepicker-1.9.0/bootstrap-datepicker.min.css"
    ),
    "https://cdn.jsdelivr.net/npm/@forevolve/bootstrap-dark@1.1.0/dist/css/bootstrap-prefers-dark.css": (
        "bootstrap-dark-1.1.0/bootstrap-prefers-dark.css"
    ),
    # Font Awesome's fonts and icons are not MIT/BSD/Apache: a small stylesheet draws the icons GX uses.
    "https://cdnjs.cloudflare.com/ajax/libs/font-awesome/6.6.0/css/all.min.css": "icons/gx-icons.css",
}
ICONS_ASSET = "icons/gx-icons.css"

# GX's logo on S3 (with a timestamp query GX appends), replaced by the copy GX writes into the site itself.
GX_S3 = "https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/"
GX_LOGOS: dict[str, str] = {
    GX_S3 + "logo-long.png": "static/images/logo-long.png",
    GX_S3 + "full_logo_dark.png": "static/images/logo-long.png",  # dark mode's logo: GX ships only the light one
}

# Vega draws charts, which no expectation of the gate renders: these scripts are dropped instead of
# vendored, and a page that does draw a chart fails the build.
CHART_SCRIPTS = frozenset(
    {
        "https://cdn.jsdelivr.net/npm/vega@5",
        "https://cdn.jsdelivr.net/npm/vega-lite@5",
        "https://cdn.jsdelivr.net/npm/vega-embed@6",
    }
)
CHART_CALL = "vegaEmbed("

# Tags that make the browser fetch something, with the attribute that names it; <script src=...></script>
# is matched whole so that a dropped script leaves nothing behind.
_RESOURCE_TAG = re.compile(r"<(?P<tag>script|link|img|iframe|source|embed)\b(?P<attrs>[^>]*)>(?P<end></script>)?", re.I)
_URL_ATTR = re.compile(r"""\b(?P<name>src|href|srcset|data)\s*=\s*(?P<quote>["'])(?P<url>.*?)(?P=quote)""", re.I | re.S)
_SRI_ATTR = re.compile(r"""\s+integrity\s*=\s*(["'])(?P<value>.*?)\1""", re.I | re.S)
_CROSSORIGIN_ATTR = re.compile(r"""\s+crossorigin(\s*=\s*(["']).*?\2)?""", re.I | re.S)
_CSS_URL = re.compile(r"""url\(\s*(?P<quote>["']?)(?P<url>[^"')]*)(?P=quote)\s*\)""", re.I)
_EXTERNAL = re.compile(r"^\s*(?:[a-z][a-z0-9+.-]*:)?//", re.I)  # http://, https://, //host (not data:, not relative)
# A relative link into the site's static/ folder. GX counts the folders up to it per template, and its
# favicon link on validation pages is one folder short; every such link is recomputed from the page's depth.
_SITE_STATIC = re.compile(r"""\b(?P<name>src|href)\s*=\s*(?P<quote>["'])(?:\./|(?:\.\./)+)static/""", re.I)
_CLASS_ATTR = re.compile(r"""\bclass\s*=\s*(["'])(?P<value>.*?)\1""", re.I | re.S)


class UnvendoredAssetError(RuntimeError):
    """A Data Docs page references something on the network that no vendored file replaces."""


def build_data_docs(context: AbstractDataContext, out_dir: Path) -> Path:
    """Write the offline Data Docs site for `context`'s validation results into `out_dir`; return index.html."""
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
    localize_site(out_dir)
    return index


def localize_site(site: Path) -> None:
    """Copy the vendored assets into `site` and point every page's CDN references at them."""
    with as_file(files("shop_analytics.quality") / ASSETS_PACKAGE_DIR) as assets:
        # Rewrite every page in memory first: an unknown reference leaves the site as GX wrote it.
        pages = {
            page: localize_page(page.read_text(encoding="utf-8"), _to_root(site, page), assets) for page in _pages(site)
        }
        shutil.copytree(assets, site / SITE_VENDOR_DIR, dirs_exist_ok=True)
    for page, html in pages.items():
        page.write_text(html, encoding="utf-8")


def localize_page(html: str, to_root: str, assets: Path) -> str:
    """`html` with its CDN and S3 references made relative (`to_root`: page to site root); raise for unknown ones."""
    if CHART_CALL in html:
        raise UnvendoredAssetError(
            "a Data Docs page draws a Vega chart, and Vega is not vendored (quality/data_docs_assets/README.md)"
        )

    def tag(match: re.Match[str]) -> str:
        return _localize_tag(match, to_root, assets)

    def css_url(match: re.Match[str]) -> str:
        url = match["url"]
        if not _EXTERNAL.match(url):
            return match[0]
        return f"url('{to_root}{_logo(url)}')"

    html = _RESOURCE_TAG.sub(tag, html)
    html = _CSS_URL.sub(css_url, html)
    _check_icons(html, (assets / ICONS_ASSET).read_text(encoding="utf-8"))
    return html


def _localize_tag(match: re.Match[str], to_root: str, assets: Path) -> str:
    """One resource tag with its network URL made local (or, for a chart script, removed)."""
    attrs = match["attrs"]
    refs = [m for m in _URL_ATTR.finditer(attrs) if _EXTERNAL.match(m["url"])]
    if not refs:
        return _SITE_STATIC.sub(lambda m: f"{m['name']}={m['quote']}{to_root}static/", match[0])
    if len(refs) > 1 or refs[0]["name"].lower() == "srcset":
        raise UnvendoredAssetError(f"unexpected network references in {match[0]!r}")
    ref = refs[0]
    url = ref["url"]
    if url in CHART_SCRIPTS and match["tag"].lower() == "script" and match["end"]:
        return ""
    if url in CDN_ASSETS:
        asset = CDN_ASSETS[url]
        local = to_root + SITE_VENDOR_DIR + asset
        _check_integrity(attrs, assets / asset, url)
        # SRI and CORS mode make browsers refuse file:// scripts; the hash was checked above instead.
        attrs = _CROSSORIGIN_ATTR.sub("", _SRI_ATTR.sub("", attrs))
        ref = next(m for m in _URL_ATTR.finditer(attrs) if m["url"] == url)
    else:
        local = to_root + _logo(url)
    attrs = f"{attrs[: ref.start('url')]}{local}{attrs[ref.end('url') :]}"
    return f"<{match['tag']}{attrs}>{match['end'] or ''}"


def _logo(url: str) -> str:
    """The site-relative path of GX's local copy of an S3 logo URL (its query string dropped)."""
    base = url.split("?", 1)[0]
    if base not in GX_LOGOS:
        raise UnvendoredAssetError(
            f"Data Docs reference {url!r}, which is not vendored: add it to CDN_ASSETS and "
            "quality/data_docs_assets/ (README.md there), or check the GX upgrade"
        )
    return GX_LOGOS[base]


def _check_integrity(attrs: str, asset: Path, url: str) -> None:
    """Raise when the tag's Subresource Integrity hash does not match the vendored file."""
    sri = _SRI_ATTR.search(attrs)
    if sri is None:
        return
    algorithm, _, expected = sri["value"].strip().partition("-")
    actual = base64.b64encode(hashlib.new(algorithm, asset.read_bytes()).digest()).decode()
    if actual != expected:
        raise UnvendoredAssetError(f"{asset} does not match the integrity hash GX gives for {url}")


def _check_icons(html: str, icons_css: str) -> None:
    """Raise when a page uses a Font Awesome icon the stand-in stylesheet does not draw."""
    drawn = set(re.findall(r"\.(fa-[\w-]+)", icons_css))
    used = {c for m in _CLASS_ATTR.finditer(html) for c in m["value"].split() if c.startswith("fa-")}
    if used - drawn:
        raise UnvendoredAssetError(f"Data Docs use icons {sorted(used - drawn)} that {ICONS_ASSET} does not draw")


def _pages(site: Path) -> list[Path]:
    """The site's HTML pages, leaving out the vendored assets."""
    vendor = site / SITE_VENDOR_DIR
    return sorted(p for p in site.rglob("*.html") if vendor not in p.parents)


def _to_root(site: Path, page: Path) -> str:
    """The relative path from `page`'s folder up to `site`, e.g. '../../'."""
    return "../" * (len(page.relative_to(site).parts) - 1)
