"""The dbt docs site (`dbt docs generate`, served over HTTP like `dbt docs serve`) in headless Chromium:
a model page shows its description and every documented column, and its lineage graph draws the model
with the parents the manifest lists."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from selenium import webdriver
from selenium.webdriver.common.by import By

from support.browser import serve_directory, wait_for
from support.pipeline import run_dbt

MODEL = "model.shop_analytics.rpt_item_popularity"
GRAPH_JS = """
const el = document.getElementById('cy');
const cy = el && el._cyreg && el._cyreg.cy;  // cytoscape keeps its instance on the container
if (!cy || !document.querySelector('.launcher.on')) return null;
const drawn = Array.from(el.querySelectorAll('canvas')).some(c => c.width > 0 && c.height > 0);
return {nodes: cy.nodes(':visible').map(n => n.id()), edges: cy.edges(':visible').length, drawn: drawn};
"""


@pytest.fixture(scope="module")
def docs_target(warehouse, tmp_path_factory: pytest.TempPathFactory) -> Path:
    """`dbt docs generate` over the test warehouse (catalog from the built tables)."""
    tmp = tmp_path_factory.mktemp("dbt-docs")
    run_dbt(["docs", "generate"], {**warehouse.env, "DBT_WRITE_JSON": "true"}, tmp)
    target = tmp / "target"
    for name in ("index.html", "manifest.json", "catalog.json"):
        assert (target / name).is_file(), f"dbt docs generate wrote no {name}"
    return target


def test_model_page_and_lineage_graph_render(docs_target: Path, browser: webdriver.Chrome, screenshot) -> None:
    manifest = json.loads((docs_target / "manifest.json").read_text())
    node = manifest["nodes"][MODEL]
    columns = list(node["columns"])
    parents = set(node["depends_on"]["nodes"])
    assert columns and parents, "the model is documented and has parents"

    with serve_directory(docs_target) as url:
        browser.get(f"{url}/#!/model/{MODEL}")
        wait_for(browser, lambda d: node["name"] in d.find_element(By.TAG_NAME, "h1").text, 60, "the model page title")

        def columns_listed(driver: webdriver.Chrome) -> bool:
            text = driver.find_element(By.TAG_NAME, "body").text
            return all(column in text for column in columns)

        wait_for(browser, columns_listed, 30, f"the columns {columns}")
        body = browser.find_element(By.TAG_NAME, "body").text
        assert node["description"].split(".")[0][:60] in body.replace("\n", " ")
        screenshot(browser, "dbt_docs_model", height=1100)

        browser.find_element(By.CSS_SELECTOR, ".launcher-btn").click()
        graph = wait_for(browser, lambda d: d.execute_script(GRAPH_JS), 60, "the lineage graph")
        assert graph["drawn"], graph
        assert set(graph["nodes"]) >= {MODEL, *parents}, graph
        assert graph["edges"] >= len(parents), graph
        screenshot(browser, "dbt_docs_lineage", height=1100)
