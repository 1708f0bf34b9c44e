"""Redash queries and dashboards as code: the specs under ``redash/`` (``queries/<slug>.sql`` with a
``<slug>.yml`` beside it: name, description, the tables the query ``reads``, its parameters; and
``dashboards/<slug>.yml``), read and checked here. The client, sync and refresh live in blc.redash."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

from blc.errors import BlcError

DEFAULT_REDASH_DIR = Path(__file__).resolve().parents[2] / "redash"
DEFAULT_QUERIES_DIR = DEFAULT_REDASH_DIR / "queries"
DEFAULT_DASHBOARDS_DIR = DEFAULT_REDASH_DIR / "dashboards"

PARAMETER_TYPES = frozenset(
    {
        "text",
        "number",
        "enum",
        "query",
        "date",
        "datetime-local",
        "datetime-with-seconds",
        "date-range",
        "datetime-range",
        "datetime-range-with-seconds",
    }
)
VISUALIZATION_TYPES = frozenset({"table", "chart", "counter", "text"})
CHART_SERIES = frozenset({"line", "column", "area", "scatter", "pie"})
DASHBOARD_COLUMNS = 6  # Redash's dashboard grid width

_SLUG_RE = re.compile(r"^[a-z][a-z0-9_]*$")
_TABLE_RE = re.compile(r"^[a-z_][a-z0-9_]*\.[a-z_][a-z0-9_]*$")
_PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
_QUERY_KEYS = frozenset({"name", "description", "reads", "parameters"})
_PARAMETER_KEYS = frozenset({"name", "title", "type", "default", "multi", "query", "options"})


class RedashError(BlcError):
    """A Redash call failed: HTTP error, unreachable server, job timeout, or an invalid spec."""

    def __init__(self, message: str, *, status_code: int | None = None, transient: bool = False) -> None:
        super().__init__(message)
        self.status_code = status_code
        #: Redash unreachable or failing on its side (HTTP 5xx): worth a retry later.
        self.transient = transient or (status_code is not None and status_code >= 500)


class RedashSpecError(RedashError):
    """A file under redash/ is malformed (missing key, unknown table name, undeclared parameter)."""


# --------------------------------------------------------------------------------------------------
# Specs: redash/queries/<slug>.yml + <slug>.sql, redash/dashboards/<slug>.yml
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RedashParameter:
    """One query parameter; ``query`` names the slug of the dropdown query when ``type == "query"``."""

    name: str
    title: str
    type: str
    default: Any = None
    multi: bool = False
    query: str | None = None
    options: tuple[str, ...] = ()

    def to_redash(self, query_ids: Mapping[str, int], parent_query_id: int | None = None) -> dict[str, Any]:
        """The parameter as Redash stores it in ``options.parameters``."""
        value = list(self.default) if isinstance(self.default, tuple) else self.default
        definition: dict[str, Any] = {
            "name": self.name,
            "title": self.title,
            "type": self.type,
            "value": value,
            "global": False,
            "locals": [],
        }
        if self.type == "query":
            if self.query is None or self.query not in query_ids:
                raise RedashError(
                    f"parameter {self.name!r}: dropdown query {self.query!r} has no id on the server; "
                    "sync it first"
                )
            definition["queryId"] = query_ids[self.query]
            if parent_query_id is not None:
                definition["parentQueryId"] = parent_query_id
        if self.type == "enum":
            definition["enumOptions"] = "\n".join(self.options)
        if self.multi:
            # Rendered as 'a','b' so the SQL can say `in ({{ name }})`.
            definition["multiValuesOptions"] = {"prefix": "'", "suffix": "'", "separator": ","}
        return definition


@dataclass(frozen=True)
class RedashQuerySpec:
    """A query as code: ``redash/queries/<slug>.sql`` plus ``<slug>.yml``."""

    slug: str
    name: str
    description: str
    sql: str
    reads: tuple[str, ...]
    parameters: tuple[RedashParameter, ...] = ()

    def reads_any(self, tables: Iterable[str]) -> bool:
        return not set(self.reads).isdisjoint(qualify_table(table) for table in tables)

    @property
    def dropdown_slugs(self) -> tuple[str, ...]:
        return tuple(p.query for p in self.parameters if p.type == "query" and p.query)

    def redash_options(self, query_ids: Mapping[str, int], query_id: int | None = None) -> dict[str, Any]:
        return {"parameters": [p.to_redash(query_ids, query_id) for p in self.parameters]}

    def parameter_values(self, overrides: Mapping[str, Any] | None = None) -> dict[str, Any]:
        """Values to run with: each parameter's default, replaced by ``overrides`` where given."""
        values: dict[str, Any] = {}
        for parameter in self.parameters:
            value = (overrides or {}).get(parameter.name, parameter.default)
            if value is None:
                continue
            if isinstance(value, (set, frozenset)):
                value = sorted(value)
            if isinstance(value, tuple):
                value = list(value)
            if parameter.multi and not isinstance(value, list):
                value = [value]
            values[parameter.name] = value
        return values


@dataclass(frozen=True)
class RedashWidgetSpec:
    title: str
    query: str | None
    visualization: Mapping[str, Any]
    position: Mapping[str, int]
    text: str = ""


@dataclass(frozen=True)
class RedashDashboardSpec:
    slug: str
    name: str
    description: str
    parameters: tuple[str, ...]
    widgets: tuple[RedashWidgetSpec, ...]


def qualify_table(table: str) -> str:
    """``cycle_stats`` → ``blc.cycle_stats``; names are compared lower-case."""
    table = table.strip().lower()
    return table if "." in table else f"blc.{table}"


def _read_yaml_mapping(path: Path) -> dict[str, Any]:
    try:
        data = yaml.safe_load(path.read_text(encoding="utf-8"))
    except yaml.YAMLError as exc:
        raise RedashSpecError(f"{path}: not valid YAML: {exc}") from exc
    if not isinstance(data, dict):
        raise RedashSpecError(f"{path}: expected a mapping at the top level, got {type(data).__name__}")
    return data


def _load_parameter(path: Path, raw: Any) -> RedashParameter:
    if not isinstance(raw, dict) or not isinstance(raw.get("name"), str):
        raise RedashSpecError(f"{path}: each parameter needs a mapping with a 'name'")
    name = raw["name"]
    unknown = set(raw) - _PARAMETER_KEYS
    if unknown:
        raise RedashSpecError(f"{path}: parameter {name!r} has unknown keys {sorted(unknown)}")
    kind = str(raw.get("type", "text"))
    if kind not in PARAMETER_TYPES:
        raise RedashSpecError(
            f"{path}: parameter {name!r} has type {kind!r}, not one of {sorted(PARAMETER_TYPES)}"
        )
    query = raw.get("query")
    if kind == "query" and not isinstance(query, str):
        raise RedashSpecError(f"{path}: parameter {name!r} of type 'query' needs 'query: <dropdown slug>'")
    options = raw.get("options") or []
    if kind == "enum" and not options:
        raise RedashSpecError(f"{path}: parameter {name!r} of type 'enum' needs 'options'")
    default = raw.get("default")
    if isinstance(default, list):
        default = tuple(default)
    return RedashParameter(
        name=name,
        title=str(raw.get("title", name)),
        type=kind,
        default=default,
        multi=bool(raw.get("multi", False)),
        query=query if kind == "query" else None,
        options=tuple(str(option) for option in options),
    )


def load_query_spec(yml_path: Path) -> RedashQuerySpec:
    """Read one ``<slug>.yml`` and its ``<slug>.sql``; raise RedashSpecError naming the file and the rule."""
    slug = yml_path.stem
    if not _SLUG_RE.match(slug):
        raise RedashSpecError(f"{yml_path}: slug {slug!r} must be lower_snake_case")
    data = _read_yaml_mapping(yml_path)
    unknown = set(data) - _QUERY_KEYS
    if unknown:
        raise RedashSpecError(f"{yml_path}: unknown keys {sorted(unknown)} (allowed: {sorted(_QUERY_KEYS)})")
    name = data.get("name")
    if not isinstance(name, str) or not name.strip():
        raise RedashSpecError(f"{yml_path}: 'name' is required")
    reads = data.get("reads")
    if not isinstance(reads, list) or not reads or not all(isinstance(t, str) for t in reads):
        raise RedashSpecError(f"{yml_path}: 'reads' must list the tables the query reads (schema.table)")
    for table in reads:
        if not _TABLE_RE.match(table):
            raise RedashSpecError(
                f"{yml_path}: 'reads' entry {table!r} is not a lower-case schema.table name"
            )
    sql_path = yml_path.with_suffix(".sql")
    if not sql_path.is_file():
        raise RedashSpecError(f"{yml_path}: the query text {sql_path.name} is missing")
    sql = sql_path.read_text(encoding="utf-8").strip() + "\n"
    parameters = tuple(_load_parameter(yml_path, raw) for raw in data.get("parameters") or [])
    declared = {p.name for p in parameters}
    used = set(_PLACEHOLDER_RE.findall(sql))
    if used != declared:
        raise RedashSpecError(
            f"{yml_path}: parameters declared {sorted(declared)} but {sql_path.name} uses {sorted(used)}"
        )
    return RedashQuerySpec(
        slug=slug,
        name=name.strip(),
        description=str(data.get("description") or "").strip(),
        sql=sql,
        reads=tuple(reads),
        parameters=parameters,
    )


def load_query_specs(queries_dir: Path = DEFAULT_QUERIES_DIR) -> list[RedashQuerySpec]:
    """Every ``<slug>.yml`` in ``queries_dir``, dropdown queries before the queries that use them."""
    yml_paths = sorted(queries_dir.glob("*.yml"))
    specs = [load_query_spec(path) for path in yml_paths]
    orphans = sorted({p.stem for p in queries_dir.glob("*.sql")} - {p.stem for p in yml_paths})
    if orphans:
        raise RedashSpecError(f"{queries_dir}: {', '.join(orphans)}.sql without a .yml beside it")
    names: dict[str, str] = {}
    for spec in specs:
        if spec.name in names:
            raise RedashSpecError(
                f"{queries_dir}: {spec.slug} and {names[spec.name]} share the name {spec.name!r}"
            )
        names[spec.name] = spec.slug
    return order_by_dropdowns(specs)


def order_by_dropdowns(specs: Sequence[RedashQuerySpec]) -> list[RedashQuerySpec]:
    """Dropdown queries first: Redash checks a query parameter's value against the dropdown's result."""
    by_slug = {spec.slug: spec for spec in specs}
    ordered: list[RedashQuerySpec] = []
    visiting: set[str] = set()

    def visit(spec: RedashQuerySpec) -> None:
        if spec in ordered:
            return
        if spec.slug in visiting:
            raise RedashSpecError(f"dropdown queries form a cycle through {spec.slug!r}")
        visiting.add(spec.slug)
        for slug in spec.dropdown_slugs:
            if slug not in by_slug:
                raise RedashSpecError(
                    f"{spec.slug}: dropdown query {slug!r} has no redash/queries/{slug}.yml"
                )
            visit(by_slug[slug])
        visiting.discard(spec.slug)
        ordered.append(spec)

    for spec in specs:
        visit(spec)
    return ordered


def _load_widget(path: Path, raw: Any) -> RedashWidgetSpec:
    if not isinstance(raw, dict):
        raise RedashSpecError(f"{path}: each widget must be a mapping")
    title = str(raw.get("title", ""))
    visualization = raw.get("visualization") or {"type": "text"}
    if not isinstance(visualization, dict) or visualization.get("type") not in VISUALIZATION_TYPES:
        raise RedashSpecError(
            f"{path}: widget {title!r}: visualization.type must be one of {sorted(VISUALIZATION_TYPES)}"
        )
    if visualization["type"] == "chart" and visualization.get("series") not in CHART_SERIES:
        raise RedashSpecError(f"{path}: widget {title!r}: chart series must be one of {sorted(CHART_SERIES)}")
    query = raw.get("query")
    if (query is None) != (visualization["type"] == "text"):
        raise RedashSpecError(f"{path}: widget {title!r}: text widgets take no query, all others need one")
    position = raw.get("position") or {}
    if not all(isinstance(position.get(key), int) for key in ("col", "row", "sizeX", "sizeY")):
        raise RedashSpecError(f"{path}: widget {title!r}: position needs integer col, row, sizeX, sizeY")
    if position["col"] < 0 or position["col"] + position["sizeX"] > DASHBOARD_COLUMNS:
        raise RedashSpecError(f"{path}: widget {title!r}: does not fit the {DASHBOARD_COLUMNS}-column grid")
    return RedashWidgetSpec(
        title=title,
        query=query,
        visualization=dict(visualization),
        position=dict(position),
        text=str(raw.get("text", "")),
    )


def load_dashboard_specs(dashboards_dir: Path = DEFAULT_DASHBOARDS_DIR) -> list[RedashDashboardSpec]:
    """Every ``redash/dashboards/<slug>.yml``: name, description, dashboard parameters, widgets."""
    specs = []
    for path in sorted(dashboards_dir.glob("*.yml")):
        data = _read_yaml_mapping(path)
        name = data.get("name")
        if not isinstance(name, str) or not name.strip():
            raise RedashSpecError(f"{path}: 'name' is required")
        widgets = data.get("widgets")
        if not isinstance(widgets, list) or not widgets:
            raise RedashSpecError(f"{path}: 'widgets' must be a non-empty list")
        specs.append(
            RedashDashboardSpec(
                slug=path.stem,
                name=name.strip(),
                description=str(data.get("description") or "").strip(),
                parameters=tuple(str(p) for p in data.get("parameters") or []),
                widgets=tuple(_load_widget(path, raw) for raw in widgets),
            )
        )
    return specs
