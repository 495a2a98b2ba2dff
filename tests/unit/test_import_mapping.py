"""The mapping file is validated strictly: every mistake is an error naming the file, the key and the column."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from shop_analytics.importing import MappingError
from shop_analytics.importing.mapping import load_mapping, template_parts
from support.import_support import EXAMPLES, ratings_doc, write_mapping


def _error(tmp_path: Path, doc: Any, source: str | None = "ratings") -> str:
    path = write_mapping(tmp_path, doc) if isinstance(doc, dict) else tmp_path / "mapping.yml"
    if not isinstance(doc, dict):
        path.write_text(doc, encoding="utf-8")
    with pytest.raises(MappingError) as caught:
        load_mapping(path, source)
    message = str(caught.value)
    assert str(path) in message  # every message names the mapping file
    return message


@pytest.mark.parametrize(
    "change, key, words",
    [
        ({"colums": {}}, "colums", "unknown key"),
        (
            {"columns": {"user_id": "user", "item_id": "item", "rating": "stars", "rated_at": "ts", "stars": "x"}},
            "columns.stars",
            "not a column of this source",
        ),
        ({"columns": {"user_id": "user", "item_id": "item", "rated_at": "ts"}}, "columns", "rating"),
        ({"derive": {}}, "columns", "rating_id"),
        ({"constants": {"rating": 5}}, "constants.rating", "YAML read it as a number"),
        ({"constants": {"user_id": "u1"}}, "constants.user_id", "already given under columns"),
        ({"timestamp": {"format": "dd/mm/yyyy"}}, "timestamp.format", "strptime pattern"),
        ({"timestamp": {"time_zone": "Europe/Londn"}}, "timestamp.time_zone", "IANA"),
        ({"timestamp": {"format": "epoch_s", "time_zone": "Europe/London"}}, "timestamp.time_zone", "instants"),
        ({"timestamp": {"zone": "UTC"}}, "timestamp.zone", "unknown key"),
        ({"derive": {"rating_id": "uuid"}}, "derive.rating_id", "unknown derivation"),
        ({"derive": {"rating_id": {"method": "row_number", "start": -1}}}, "derive.rating_id.start", ">= 0"),
        ({"derive": {"rating_id": {"method": "hash", "of": ["stars"]}}}, "derive.rating_id.of", "not a column"),
        ({"derive": {"rating_id": "row_number", "rating": "row_number"}}, "derive.rating", "cannot be derived"),
        (
            {"columns": {"user_id": "u", "item_id": "i", "rating": "s", "rated_at": "t", "rating_id": "id"}},
            "derive.rating_id",
            "already given under columns",
        ),
        ({"values": {"rating": {"4.5": 5}}}, "values.rating.4.5", "YAML read it as a number"),
        ({"values": {"rated_at": {}}}, "values.rated_at", "empty value map"),
        ({"source": "orders"}, "source", "order_lines"),
        ({"input": {"delimiter": ";;"}}, "input.delimiter", "one character"),
        ({"input": {"format": "xlsx"}}, "input.format", "csv, parquet, json"),
        ({"input": {"encoding": "cp1252"}}, "input.encoding", "latin-1"),
        (
            {"dimensions": {"items": {"columns": {"item_id": "item"}}}},
            "dimensions.items.columns.item_id",
            "not a column",
        ),
        (
            {"dimensions": {"users": {"templates": {"country_code": "{user}"}}}},
            "dimensions.users.templates.country_code",
            "{user_id}",
        ),
        ({"dimensions": {"users": {"first_event_time": "yes"}}}, "dimensions.users.first_event_time", "true or false"),
        ({"dimensions": {"shops": {}}}, "dimensions.shops", "unknown dimension"),
    ],
)
def test_mistakes_name_the_key(tmp_path: Path, change: dict[str, Any], key: str, words: str) -> None:
    doc = ratings_doc()
    doc.update(change)
    message = _error(tmp_path, doc, None)
    assert f": {key}: " in message and words in message, message


def test_source_must_agree_with_the_command_line(tmp_path: Path) -> None:
    message = _error(tmp_path, ratings_doc(), "page_views")
    assert "--source 'page_views'" in message and "'ratings'" in message


def test_not_yaml_and_not_a_mapping(tmp_path: Path) -> None:
    assert "not valid YAML" in _error(tmp_path, "columns: [unclosed")
    assert "must be a mapping" in _error(tmp_path, "- a\n- b\n")
    with pytest.raises(MappingError, match="not found"):
        load_mapping(tmp_path / "absent.yml", "ratings")


def test_order_lines_derivations_need_their_inputs(tmp_path: Path) -> None:
    doc = {
        "source": "order_lines",
        "columns": {"order_id": "inv", "ordered_at": "t", "item_id": "sku", "unit_price": "p"},
        "constants": {"currency": "EUR", "line_type": "sale", "quantity": "1"},
        "derive": {"line_number": "order_appearance", "line_amount": "quantity_times_unit_price"},
    }
    message = _error(tmp_path, doc, None)
    assert ": derive.line_amount: " in message and "'quantity'" in message
    doc["derive"]["line_type"] = {"as": "refund", "order_id_prefix": "C"}
    del doc["constants"]["line_type"]
    assert ": derive.line_type.as: " in _error(tmp_path, doc, None)
    doc["derive"]["line_type"] = {}
    assert "say how a reversal is recognized" in _error(tmp_path, doc, None)


def test_a_date_takes_no_time_zone(tmp_path: Path) -> None:
    doc = {
        "source": "exchange_rates",
        "columns": {"rate_date": "d", "currency": "c", "base_currency": "b", "rate": "r"},
        "timestamp": {"time_zone": "Europe/Paris"},
    }
    assert ": timestamp.time_zone: rate_date is a date" in _error(tmp_path, doc, None)


def test_dimensions_need_a_reference(tmp_path: Path) -> None:
    doc = {
        "source": "exchange_rates",
        "columns": {"rate_date": "d", "currency": "c", "base_currency": "b", "rate": "r"},
        "dimensions": {"users": {}},
    }
    assert "reference no user" in _error(tmp_path, doc, None)


def test_every_shipped_example_is_valid() -> None:
    examples = sorted((EXAMPLES / "mappings").glob("*.yml"))
    assert len(examples) >= 3
    for path in examples:
        mapping = load_mapping(path)
        assert mapping.target.name in {"ratings", "order_lines"}, path


def test_batch_settings_declare_format_zone_and_currency() -> None:
    retail = load_mapping(EXAMPLES / "mappings" / "retail_invoice_lines.yml", "order_lines")
    # A strptime pattern is converted by the importer, so the gate reads ISO 8601 in the declared zone.
    assert retail.batch_settings() == {
        "timestamp_format": "iso8601",
        "time_zone": "Europe/London",
        "default_currency": "GBP",
    }
    movielens = load_mapping(EXAMPLES / "mappings" / "ratings_movielens.yml")
    assert movielens.batch_settings() == {"timestamp_format": "epoch_s"}


def test_template_parts() -> None:
    assert template_parts("/items/{item_id}") == [("/items/", False), ("item_id", True)]
    assert template_parts("{item_id}-x") == [("item_id", True), ("-x", False)]
    with pytest.raises(ValueError, match="unclosed"):
        template_parts("/items/{item_id")
