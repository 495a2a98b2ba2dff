"""The mapping file: how a foreign file's columns become a landing source's columns (docs/import.md).

Validated strictly when loaded: an unknown key, a target column that does not exist or is
given twice, a required target column left out, a value of the wrong shape, an unknown
time zone: each is a MappingError naming the mapping file and the key. Whether the mapped
input columns exist is checked against the input file (`check_input_columns`).

Constants and value maps must be written as YAML strings: YAML would otherwise read
``007`` as 7, ``NO`` as false and ``1.10`` as 1.1, and the importer never changes a value
behind the user's back.
"""

from __future__ import annotations

import zoneinfo
from collections.abc import Mapping as AbcMapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, NoReturn

import yaml

from shop_analytics.importing.targets import (
    DATE,
    DIMENSION_TARGETS,
    EVENT_ID,
    Target,
    target_by_name,
)

ISO8601 = "iso8601"
EPOCH_S = "epoch_s"
EPOCH_MS = "epoch_ms"
FORMATS = (ISO8601, EPOCH_S, EPOCH_MS)
INPUT_FORMATS = ("csv", "parquet", "json")
ENCODINGS = ("utf-8", "utf-16", "latin-1")

# Derivations: which target columns each may fill.
ROW_NUMBER = "row_number"  # event ids: 1, 2, ... in file order (+ start - 1)
HASH = "hash"  # event ids: a stable 60-bit number from the listed target columns' text
ORDER_APPEARANCE = "order_appearance"  # line_number: 1, 2, ... by order of appearance within an order
QUANTITY_TIMES_UNIT_PRICE = "quantity_times_unit_price"  # line_amount, in exact decimal arithmetic
REVERSALS = "reversals"  # line_type: sale, or a reversal by invoice prefix or negative quantity
REVERSAL_TYPES = ("cancellation", "return")


class MappingError(ValueError):
    """A mapping file that cannot be used; the message names the file and the key."""


@dataclass(frozen=True)
class InputOptions:
    """How to read the input file; None means: let the reader find out (CSV dialect sniffing)."""

    format: str | None = None
    delimiter: str | None = None
    quote: str | None = None
    escape: str | None = None
    encoding: str | None = None


@dataclass(frozen=True)
class Derivation:
    """One derived target column."""

    method: str
    start: int = 1  # row_number
    of: tuple[str, ...] = ()  # hash: target columns hashed
    order_id_prefix: str | None = None  # reversals
    negative_quantity: bool = False  # reversals
    reversal_type: str = "cancellation"  # reversals


@dataclass(frozen=True)
class DimensionMapping:
    """A users or items batch derived from the fact rows' keys."""

    target: Target
    columns: dict[str, str] = field(default_factory=dict)  # target column -> input column (first non-null value)
    constants: dict[str, str] = field(default_factory=dict)
    templates: dict[str, str] = field(default_factory=dict)  # e.g. "/items/{item_id}"
    first_event_time: bool = False  # the time column: the key's earliest event time


@dataclass(frozen=True)
class ImportMapping:
    """A validated mapping file for one target source."""

    path: Path
    target: Target
    input: InputOptions
    columns: dict[str, str]  # target column -> input column
    constants: dict[str, str]
    values: dict[str, dict[str, str]]  # target column -> {input text: landing text}
    derive: dict[str, Derivation]
    timestamp_format: str = ISO8601  # iso8601, epoch_s, epoch_ms, or a strptime pattern (contains %)
    time_zone: str | None = None
    default_currency: str | None = None
    dimensions: tuple[DimensionMapping, ...] = ()

    @property
    def is_strptime(self) -> bool:
        """The timestamp format is a strptime pattern, converted to ISO 8601 text by the importer."""
        return self.timestamp_format not in FORMATS

    def input_columns(self) -> dict[str, str]:
        """Every input column the mapping reads -> the mapping key that names it (for messages)."""
        used = {column: f"columns.{target}" for target, column in self.columns.items()}
        for dim in self.dimensions:
            for target, column in dim.columns.items():
                used.setdefault(column, f"dimensions.{dim.target.name}.columns.{target}")
        return used

    def batch_settings(self) -> dict[str, str]:
        """What the batch's _batch.yml declares for the gate (docs/raw_data_contract.md, contract_v2 §4)."""
        settings = {"timestamp_format": ISO8601 if self.is_strptime else self.timestamp_format}
        if self.time_zone is not None:
            settings["time_zone"] = self.time_zone
        if self.default_currency is not None:
            settings["default_currency"] = self.default_currency
        return settings


_TOP_KEYS = (
    "source",
    "input",
    "columns",
    "constants",
    "values",
    "derive",
    "timestamp",
    "default_currency",
    "dimensions",
)


def load_mapping(path: Path, source: str | None = None) -> ImportMapping:
    """Read and validate the mapping file at `path` for target `source` (default: the file's `source:` key)."""
    path = Path(path)
    try:
        text = path.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise MappingError(f"mapping file {path} not found") from None
    except (OSError, UnicodeDecodeError) as exc:
        raise MappingError(f"mapping file {path}: cannot read it: {exc}") from exc
    try:
        raw = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise MappingError(f"mapping file {path}: not valid YAML: {exc}") from exc
    return parse_mapping(raw, path, source)


def parse_mapping(raw: Any, path: Path, source: str | None = None) -> ImportMapping:
    """Validate the parsed YAML document `raw` of mapping file `path` (see load_mapping)."""
    where = _Where(path)
    doc = where.mapping(raw, "", "the mapping file")
    where.known_keys(doc, "", _TOP_KEYS)
    declared = doc.get("source")
    if declared is not None and not isinstance(declared, str):
        where.fail("source", f"must be a source name, got {declared!r}")
    if source is not None and declared is not None and declared != source:
        where.fail("source", f"the mapping is for source {declared!r}, but --source {source!r} was given")
    name = source or declared
    if name is None:
        where.fail("source", "missing: say which source this file maps to, or pass --source")
    try:
        target = target_by_name(str(name))
    except ValueError as exc:
        where.fail("source", str(exc))
    valid = target.column_names
    columns = where.string_map(doc.get("columns", {}), "columns", valid, "input column name")
    constants = where.string_map(doc.get("constants", {}), "constants", valid, "constant")
    values = _values(where, doc.get("values", {}), valid)
    derive = _derivations(where, doc.get("derive", {}), target)
    _no_overlap(where, target, columns, constants, derive)
    fmt, zone = _timestamp(where, doc.get("timestamp", {}))
    if zone is not None and target.time_column and target.column(target.time_column).kind == DATE:
        where.fail("timestamp.time_zone", f"{target.time_column} is a date; a time zone does not apply to it")
    currency = doc.get("default_currency")
    if currency is not None and not (isinstance(currency, str) and currency.strip()):
        where.fail("default_currency", f"must be an ISO 4217 code as a string, got {currency!r}")
    for column in values:
        if column not in columns:
            where.fail(f"values.{column}", "a value map applies to a mapped input column; map it under columns")
    dimensions = _dimensions(where, doc.get("dimensions", {}), target)
    input_options = _input(where, doc.get("input", {}))
    return ImportMapping(
        path, target, input_options, columns, constants, values, derive, fmt, zone, currency, dimensions
    )


@dataclass(frozen=True)
class _Where:
    """Error messages that name the mapping file and the key."""

    path: Path

    def fail(self, key: str, message: str) -> NoReturn:
        raise MappingError(f"mapping file {self.path}: {key or 'top level'}: {message}")

    def mapping(self, value: Any, key: str, what: str) -> dict[str, Any]:
        if value is None:
            return {}
        if not isinstance(value, AbcMapping):
            self.fail(key, f"{what} must be a mapping of keys to values, got {type(value).__name__}")
        bad = [k for k in value if not isinstance(k, str)]
        if bad:
            self.fail(key, f"keys must be strings; quote {bad[0]!r}")
        return dict(value)

    def known_keys(self, value: dict[str, Any], key: str, allowed: tuple[str, ...]) -> None:
        unknown = [k for k in value if k not in allowed]
        if unknown:
            prefix = f"{key}." if key else ""
            self.fail(f"{prefix}{unknown[0]}", f"unknown key; expected one of: {', '.join(allowed)}")

    def string(self, value: Any, key: str, what: str) -> str:
        if not isinstance(value, str) or value == "":
            self.fail(
                key,
                f"{what} must be a non-empty string in quotes, got {value!r}"
                + (" (YAML read it as a number or boolean)" if isinstance(value, int | float | bool) else ""),
            )
        return str(value)

    def string_map(self, value: Any, key: str, valid: tuple[str, ...], what: str) -> dict[str, str]:
        found = self.mapping(value, key, key)
        for name in found:
            if name not in valid:
                self.fail(f"{key}.{name}", f"not a column of this source; expected one of: {', '.join(valid)}")
        return {name: self.string(v, f"{key}.{name}", what) for name, v in found.items()}


def _values(where: _Where, raw: Any, valid: tuple[str, ...]) -> dict[str, dict[str, str]]:
    maps = where.mapping(raw, "values", "values")
    result = {}
    for column, table in maps.items():
        if column not in valid:
            where.fail(f"values.{column}", f"not a column of this source; expected one of: {', '.join(valid)}")
        entries = where.mapping(table, f"values.{column}", "a value map")
        if not entries:
            where.fail(f"values.{column}", "an empty value map; remove it or list input text: landing text")
        result[column] = {k: where.string(v, f"values.{column}.{k}", "a mapped value") for k, v in entries.items()}
    return result


_DERIVABLE = {
    ROW_NUMBER: "event id columns",
    HASH: "event id columns",
    ORDER_APPEARANCE: "line_number",
    QUANTITY_TIMES_UNIT_PRICE: "line_amount",
    REVERSALS: "line_type",
}


def _derivations(where: _Where, raw: Any, target: Target) -> dict[str, Derivation]:
    found = where.mapping(raw, "derive", "derive")
    result = {}
    for column, spec in found.items():
        key = f"derive.{column}"
        if column not in target.column_names:
            where.fail(key, f"not a column of this source; expected one of: {', '.join(target.column_names)}")
        options: dict[str, Any]
        if isinstance(spec, str):
            method, options = spec, {}
        else:
            options = where.mapping(spec, key, "a derivation")
            method = options.pop("method", None)
            if method is None and column == "line_type":
                method = REVERSALS
            method = where.string(method, f"{key}.method", "the derivation method")
        allowed = {
            "line_number": (ORDER_APPEARANCE,),
            "line_amount": (QUANTITY_TIMES_UNIT_PRICE,),
            "line_type": (REVERSALS,),
        }.get(column, (ROW_NUMBER, HASH) if target.column(column).kind == EVENT_ID else ())
        if method not in allowed:
            hint = f"expected one of: {', '.join(allowed)}" if allowed else "this column cannot be derived"
            where.fail(key, f"unknown derivation {method!r}; {hint}")
        result[column] = _derivation(where, key, method, options, target)
    return result


def _derivation(where: _Where, key: str, method: str, options: dict[str, Any], target: Target) -> Derivation:
    if method == ROW_NUMBER:
        where.known_keys(options, key, ("start",))
        start = options.get("start", 1)
        if not isinstance(start, int) or isinstance(start, bool) or not 0 <= start < 2**62:
            where.fail(f"{key}.start", f"must be a whole number >= 0, got {start!r}")
        return Derivation(method, start=start)
    if method == HASH:
        where.known_keys(options, key, ("of",))
        of = options.get("of")
        if not isinstance(of, list) or not of:
            where.fail(f"{key}.of", "list the target columns whose values identify an event")
        names = tuple(where.string(c, f"{key}.of", "a column name") for c in of)
        for name in names:
            if name not in target.column_names or target.column(name).kind == EVENT_ID:
                where.fail(f"{key}.of", f"{name!r} is not a column of this source that can identify an event")
        return Derivation(method, of=names)
    if method == REVERSALS:
        where.known_keys(options, key, ("order_id_prefix", "negative_quantity", "as"))
        prefix = options.get("order_id_prefix")
        if prefix is not None:
            prefix = where.string(prefix, f"{key}.order_id_prefix", "an order id prefix")
        negative = options.get("negative_quantity", False)
        if not isinstance(negative, bool):
            where.fail(f"{key}.negative_quantity", f"must be true or false, got {negative!r}")
        kind = options.get("as", "cancellation")
        if kind not in REVERSAL_TYPES:
            where.fail(f"{key}.as", f"must be one of {', '.join(REVERSAL_TYPES)}, got {kind!r}")
        if prefix is None and not negative:
            where.fail(key, "say how a reversal is recognized: order_id_prefix, negative_quantity: true, or both")
        return Derivation(method, order_id_prefix=prefix, negative_quantity=negative, reversal_type=kind)
    where.known_keys(options, key, ())
    return Derivation(method)


def _no_overlap(
    where: _Where, target: Target, columns: dict[str, str], constants: dict[str, str], derive: dict[str, Derivation]
) -> None:
    sections: dict[str, set[str]] = {"columns": set(columns), "constants": set(constants), "derive": set(derive)}
    for column in target.column_names:
        givers = [name for name, section in sections.items() if column in section]
        if len(givers) > 1:
            where.fail(f"{givers[1]}.{column}", f"{column!r} is already given under {givers[0]}; give it once")
    provided = set(columns) | set(constants) | set(derive)
    missing = [c.name for c in target.columns if c.required and c.name not in provided]
    if missing:
        where.fail(
            "columns",
            f"required column(s) of {target.name} not mapped: {', '.join(missing)}; map each to an input "
            f"column, give it under constants, or derive it (docs/import.md)",
        )
    needs = {
        ORDER_APPEARANCE: ("order_id",),
        QUANTITY_TIMES_UNIT_PRICE: ("quantity", "unit_price"),
        REVERSALS: ("order_id", "quantity"),
    }
    for column, derivation in derive.items():
        for needed in needs.get(derivation.method, ()):
            if needed not in columns:
                where.fail(f"derive.{column}", f"{derivation.method} reads {needed!r}: map it under columns")
        for needed in derivation.of:
            if needed not in provided:
                where.fail(f"derive.{column}.of", f"{needed!r} is not mapped, so it cannot identify an event")


def _timestamp(where: _Where, raw: Any) -> tuple[str, str | None]:
    section = where.mapping(raw, "timestamp", "timestamp")
    where.known_keys(section, "timestamp", ("format", "time_zone"))
    fmt = where.string(section.get("format", ISO8601), "timestamp.format", "the timestamp format")
    if fmt not in FORMATS and "%" not in fmt:
        where.fail(
            "timestamp.format",
            f"{fmt!r} is not a format: use iso8601, epoch_s, epoch_ms or a strptime pattern such as '%d/%m/%Y %H:%M'",
        )
    zone = section.get("time_zone")
    if zone is not None:
        zone = where.string(zone, "timestamp.time_zone", "an IANA time zone name")
        try:
            zoneinfo.ZoneInfo(zone)
        except (zoneinfo.ZoneInfoNotFoundError, ValueError):
            where.fail("timestamp.time_zone", f"{zone!r} is not an IANA time zone name (e.g. Europe/London, UTC)")
        if fmt in (EPOCH_S, EPOCH_MS):
            where.fail("timestamp.time_zone", f"{fmt} timestamps are instants; a time zone does not apply to them")
    return fmt, zone


def _dimensions(where: _Where, raw: Any, target: Target) -> tuple[DimensionMapping, ...]:
    section = where.mapping(raw, "dimensions", "dimensions")
    result = []
    for name, spec in section.items():
        key = f"dimensions.{name}"
        dim = DIMENSION_TARGETS.get(name)
        if dim is None:
            where.fail(key, f"unknown dimension; expected one of: {', '.join(DIMENSION_TARGETS)}")
        reference = target.user_column if name == "users" else target.item_column
        if reference is None:
            where.fail(key, f"{target.name} rows reference no {name[:-1]}, so no {name} batch can be derived")
        body = where.mapping(spec, key, key)
        where.known_keys(body, key, ("columns", "constants", "templates", "first_event_time"))
        attributes = tuple(c for c in dim.column_names if c != dim.columns[0].name)
        columns = where.string_map(body.get("columns", {}), f"{key}.columns", attributes, "input column name")
        constants = where.string_map(body.get("constants", {}), f"{key}.constants", attributes, "constant")
        templates = where.string_map(body.get("templates", {}), f"{key}.templates", attributes, "template")
        first = body.get("first_event_time", False)
        if not isinstance(first, bool):
            where.fail(f"{key}.first_event_time", f"must be true or false, got {first!r}")
        given: dict[str, str] = {}
        for section_name, part in (("columns", columns), ("constants", constants), ("templates", templates)):
            for column in part:
                if column in given:
                    where.fail(f"{key}.{section_name}.{column}", f"already given under {given[column]}")
                given[column] = section_name
        if first and dim.time_column in given:
            where.fail(f"{key}.first_event_time", f"{dim.time_column} is already given under {given[dim.time_column]}")
        for column, template in templates.items():
            _check_template(where, f"{key}.templates.{column}", template, dim)
        result.append(DimensionMapping(dim, columns, constants, templates, first))
    return tuple(result)


def template_parts(template: str) -> list[tuple[str, bool]]:
    """`template` as (text, is_placeholder) parts: '/a/{item_id}' -> [('/a/', False), ('item_id', True)]."""
    parts: list[tuple[str, bool]] = []
    rest = template
    while rest:
        start = rest.find("{")
        if start < 0:
            parts.append((rest, False))
            break
        end = rest.find("}", start)
        if end < 0:
            raise ValueError("an unclosed '{'")
        if start:
            parts.append((rest[:start], False))
        parts.append((rest[start + 1 : end], True))
        rest = rest[end + 1 :]
    return parts


def _check_template(where: _Where, key: str, template: str, dim: Target) -> None:
    try:
        parts = template_parts(template)
    except ValueError as exc:
        where.fail(key, f"template {template!r}: {exc}")
    key_column = dim.columns[0].name
    for text, placeholder in parts:
        if placeholder and text != key_column:
            where.fail(key, f"template {template!r}: only {{{key_column}}} can be filled in, not {{{text}}}")


def _input(where: _Where, raw: Any) -> InputOptions:
    section = where.mapping(raw, "input", "input")
    where.known_keys(section, "input", ("format", "delimiter", "quote", "escape", "encoding"))
    values = {k: where.string(v, f"input.{k}", k) for k, v in section.items()}
    if "format" in values and values["format"] not in INPUT_FORMATS:
        where.fail("input.format", f"must be one of {', '.join(INPUT_FORMATS)}, got {values['format']!r}")
    if "encoding" in values and values["encoding"].lower() not in ENCODINGS:
        where.fail("input.encoding", f"must be one of {', '.join(ENCODINGS)}, got {values['encoding']!r}")
    for name in ("delimiter", "quote", "escape"):
        if name in values and len(values[name]) != 1:
            where.fail(f"input.{name}", f"must be one character, got {values[name]!r}")
    if values.get("format") not in (None, "csv") and set(values) - {"format"}:
        where.fail("input", "delimiter, quote, escape and encoding apply to CSV input only")
    return InputOptions(**values)


def check_input_columns(mapping: ImportMapping, input_columns: list[str], input_file: Path) -> None:
    """A MappingError naming the mapping key and the column when the mapping reads a column `input_file` lacks."""
    available = set(input_columns)
    for column, key in mapping.input_columns().items():
        if column not in available:
            near = [c for c in input_columns if c.strip().casefold() == column.strip().casefold()]
            hint = f" (did you mean {near[0]!r}? names must match exactly)" if near else ""
            shown = ", ".join(repr(c) for c in input_columns[:30]) + (" ..." if len(input_columns) > 30 else "")
            raise MappingError(
                f"mapping file {mapping.path}: {key}: input column {column!r} is not in {input_file}{hint}; "
                f"its columns are: {shown}"
            )
