"""GX Data Docs offline: every CDN reference in GX 1.24.1's templates has a vendored copy and is rewritten to a
relative path; anything unknown (a new CDN file, an icon, a chart, a changed file) fails the build."""

from __future__ import annotations

import re
from importlib.resources import files
from pathlib import Path

import great_expectations
import pytest

from shop_analytics.quality.data_docs import (
    CDN_ASSETS,
    CHART_SCRIPTS,
    SITE_VENDOR_DIR,
    UnvendoredAssetError,
    localize_page,
    localize_site,
)

ASSETS = Path(str(files("shop_analytics.quality") / "data_docs_assets"))
GX_VIEW = Path(great_expectations.__file__).parent / "render" / "view"
TEMPLATES = sorted((GX_VIEW / "templates").glob("*.j2"))
# A resource reference outside an <a>: what makes a browser fetch something.
NETWORK_REF = re.compile(r"""<(?:script|link|img)\b[^>]*\b(?:src|href)\s*=\s*["']((?:https?:)?//[^"']+)""", re.I)
CSS_NETWORK_URL = re.compile(r"""url\(\s*["']?((?:https?:)?//[^"')]+)""", re.I)

# Head and navbar lines as GX 1.24.1 renders them for a validation page (four folders below the site root).
VALIDATION_HEAD = """<link rel="stylesheet" href="https://unpkg.com/bootstrap-table@1.19.1/dist/bootstrap-table.min.css">
<script src="https://cdn.jsdelivr.net/npm/vega@5"></script>
<script src="https://cdnjs.cloudflare.com/ajax/libs/popper.js/1.12.9/umd/popper.min.js"
  integrity="sha384-ApNbgh9B+Y1QKtv3Rn7W3mgPxhU9K/ScQsAP7hUibX39j7fakFPskvXusvfa0b4Q" crossorigin="anonymous"></script>
<style>.navbar-brand a {
  background: url('https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/full_logo_dark.png') 0 0 no-repeat;
}</style>
<img
  class="NO-CACHE"
  src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/logo-long.png?d=20261206T114323.412958Z&dataContextId=abc"
  alt="Great Expectations"
/>
<link rel="shortcut icon" href="../../../static/images/favicon.ico" type="image/x-icon"/>
<a href="https://greatexpectations.io">Great Expectations</a>
<i class="fas fa-check-circle text-success" aria-hidden="true"></i>
"""


def _network_refs(html: str) -> list[str]:
    return NETWORK_REF.findall(html) + CSS_NETWORK_URL.findall(html)


def test_every_cdn_url_in_the_gx_templates_is_vendored_or_a_dropped_chart_script() -> None:
    urls = {url for t in TEMPLATES for url in NETWORK_REF.findall(t.read_text())}
    assert urls, f"no CDN references found in {GX_VIEW}: did the template folder move?"
    assert urls - set(CDN_ASSETS) - CHART_SCRIPTS == set(), "new CDN files in GX's templates: vendor them"


@pytest.mark.parametrize("template", [t for t in TEMPLATES if "vegaEmbed(" not in t.read_text()], ids=lambda t: t.name)
def test_gx_templates_keep_no_network_reference(template: Path) -> None:
    html = localize_page(template.read_text(), "../", ASSETS)
    assert _network_refs(html) == []


def test_gx_default_styles_keep_no_network_url() -> None:
    css = (GX_VIEW / "static" / "styles" / "data_docs_default_styles.css").read_text()
    assert CSS_NETWORK_URL.findall(css), "GX's styles no longer load its logo from S3: update GX_LOGOS"
    assert CSS_NETWORK_URL.findall(localize_page(f"<style>{css}</style>", "", ASSETS)) == []


def test_every_vendored_file_exists_next_to_its_licence() -> None:
    for asset in set(CDN_ASSETS.values()):
        path = ASSETS / asset
        assert path.is_file() and path.stat().st_size > 0, asset
        if path.parent.name != "icons":  # the icons are the project's own
            assert {p.name for p in path.parent.iterdir()} & {"LICENSE", "LICENSE.txt"}, asset
        assert path.name in (ASSETS / "README.md").read_text(), f"{asset} has no row in README.md"


def test_a_validation_page_head_is_rewritten_to_relative_local_paths() -> None:
    html = localize_page(VALIDATION_HEAD, "../../../../", ASSETS)
    assert _network_refs(html) == []
    assert (
        '<link rel="stylesheet" href="../../../../static/vendor/bootstrap-table-1.19.1/bootstrap-table.min.css">'
        in html
    )
    assert '<script src="../../../../static/vendor/popper.js-1.12.9/popper.min.js"></script>' in html
    assert "url('../../../../static/images/logo-long.png')" in html
    assert 'src="../../../../static/images/logo-long.png"' in html
    assert "vega" not in html  # chart scripts dropped, the page draws no chart
    assert "integrity" not in html and "crossorigin" not in html
    # Links stay as they were.
    assert '<a href="https://greatexpectations.io">' in html
    # GX's favicon link on validation pages is one folder short: it is recomputed from the page's depth.
    assert 'href="../../../../static/images/favicon.ico"' in html


@pytest.mark.parametrize(
    "html",
    [
        '<script src="https://cdn.example.com/library@2.js"></script>',
        '<link rel="stylesheet" href="//cdn.example.com/theme.css">',
        '<script src="https://code.jquery.com/jquery-3.7.2.min.js"></script>',  # exact matches only
        '<img src="https://great-expectations-web-assets.s3.us-east-2.amazonaws.com/new-logo.png">',
        "<style>body { background: url(https://cdn.example.com/bg.png) }</style>",
        '<i class="fas fa-bolt"></i>',  # an icon the stand-in stylesheet does not draw
        "<script>vegaEmbed('#chart', spec)</script>",  # a chart, and Vega is not vendored
    ],
)
def test_an_unknown_network_reference_raises(html: str) -> None:
    with pytest.raises(UnvendoredAssetError):
        localize_page(html, "", ASSETS)


def test_a_vendored_file_that_does_not_match_gxs_integrity_hash_raises() -> None:
    html = (
        '<script src="https://stackpath.bootstrapcdn.com/bootstrap/4.3.1/js/bootstrap.min.js" '
        'integrity="sha384-ApNbgh9B+Y1QKtv3Rn7W3mgPxhU9K/ScQsAP7hUibX39j7fakFPskvXusvfa0b4Q"></script>'
    )
    with pytest.raises(UnvendoredAssetError, match="integrity"):
        localize_page(html, "", ASSETS)


def test_localize_site_copies_the_assets_and_rewrites_each_page_by_its_depth(tmp_path: Path) -> None:
    jquery = '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
    (tmp_path / "validations" / "a").mkdir(parents=True)
    (tmp_path / "index.html").write_text(jquery)
    (tmp_path / "validations" / "a" / "run.html").write_text(jquery)
    localize_site(tmp_path)
    assert (tmp_path / "index.html").read_text() == '<script src="static/vendor/jquery-3.7.1/jquery.min.js"></script>'
    assert (tmp_path / "validations" / "a" / "run.html").read_text() == (
        '<script src="../../static/vendor/jquery-3.7.1/jquery.min.js"></script>'
    )
    for asset in CDN_ASSETS.values():
        assert (tmp_path / SITE_VENDOR_DIR / asset).read_bytes() == (ASSETS / asset).read_bytes()


def test_localize_site_leaves_every_page_untouched_when_one_reference_is_unknown(tmp_path: Path) -> None:
    good = '<script src="https://code.jquery.com/jquery-3.7.1.min.js"></script>'
    (tmp_path / "a.html").write_text(good)
    (tmp_path / "b.html").write_text('<script src="https://cdn.example.com/x.js"></script>')
    with pytest.raises(UnvendoredAssetError, match=r"cdn\.example\.com"):
        localize_site(tmp_path)
    assert (tmp_path / "a.html").read_text() == good
