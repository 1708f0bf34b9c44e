"""How `blc` prints tables: a narrow, rounded set of columns with blanks for missing values (the default), or
every column as csv (10 significant digits) or json (15)."""

from __future__ import annotations

import re
import sys
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import pandas as pd

    from blc.queries import FileStatus


# The narrow tables of `--format table` without `--all`: column → header (shortened to fit ~110 characters).
CELL_TABLE = {
    "cell_id": "cell_id",
    "project": "project",
    "cycles": "cycles",
    "complete_cycles": "complete",
    "reference_capacity_ah": "ref_Ah",
    "last_retention": "retention",
    "cycles_to_80": "to_80%",
    "cycles_to_70": "to_70%",
    "equivalent_full_cycles": "EFC",
    "files": "files",
}
CYCLE_TABLE = {
    "cycle_index": "cycle",
    "charge_capacity_ah": "charge_Ah",
    "discharge_capacity_ah": "discharge_Ah",
    "coulombic_efficiency": "CE",
    "energy_efficiency": "EE",
    "voltage_max_v": "V_max",
    "voltage_min_v": "V_min",
    "duration_second": "duration_s",
    "cycle_class": "class",
    "complete": "complete",
}
FADE_TABLE = {
    "cycle_index": "cycle",
    "discharge_capacity_ah": "discharge_Ah",
    "retention": "retention",
    "discharge_energy_wh": "discharge_Wh",
    "energy_retention": "energy_ret",
    "coulombic_efficiency": "CE",
    "coulombic_inefficiency_smoothed": "CI_smoothed",
    "equivalent_full_cycles": "EFC",
    "cycle_class": "class",
    "complete": "complete",
}

#: Columns shown as whole numbers in a table (pandas reads integer columns with nulls as float).
INTEGER_COLUMNS = frozenset(
    {
        "cycle_index",
        "cycles",
        "complete_cycles",
        "cycles_to_80",
        "cycles_to_70",
        "projected_cycles_to_80",
        "projected_cycles_to_70",
        "knee_onset_cycle",
        "files",
        "n_points",
        "file_id",
        "rows",
        "attempts",
        "size_bytes",
        "cycle_count",
        "first_cycle_index",
        "last_cycle_index",
        "first_cycle_count",
        "last_cycle_count",
        "stitch_position",
        "cycle_offset",
    }
)

NUMBER = re.compile(r"^~?[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")


def narrow_cells(overview: pd.DataFrame) -> pd.DataFrame:
    """The cells table's columns; cycles to 80/70 % show the projection as `~N` while not reached."""
    narrow = overview[list(CELL_TABLE)].copy()
    for threshold in (80, 70):
        reached, projected = overview[f"cycles_to_{threshold}"], overview[f"projected_cycles_to_{threshold}"]
        narrow[f"cycles_to_{threshold}"] = [
            str(int(r)) if not missing(r) else f"~{int(p)}" if not missing(p) else ""
            for r, p in zip(reached, projected, strict=True)
        ]
    return narrow


# --- output ---------------------------------------------------------------------------------------------


def emit(table: pd.DataFrame, fmt: str) -> None:
    """csv (missing values: empty fields) or json (null), full precision; or a table."""
    if fmt == "table":
        print_table(table)
        return
    from pandas.api.types import is_string_dtype

    table = table.copy()
    for column in table.columns:
        values = table[column]
        if str(values.dtype).startswith("datetime64"):
            table[column] = [None if missing(v) else iso(v) for v in values]
        elif fmt == "csv" and values.dtype == object and any(isinstance(v, list) for v in values):
            table[column] = ["; ".join(map(str, v)) if isinstance(v, list) else v for v in values]
        if fmt == "csv" and (values.dtype == object or is_string_dtype(values.dtype)):
            table[column] = [spreadsheet_safe(v) for v in table[column]]
    if fmt == "csv":
        table.to_csv(sys.stdout, index=False, float_format="%.10g")
    else:
        sys.stdout.write(table.to_json(orient="records", double_precision=15) + "\n")


#: A text cell starting with one of these runs as a formula when a spreadsheet opens the CSV.
FORMULA_LEADS = ("=", "+", "-", "@", "\t", "\r")


def spreadsheet_safe(value: object) -> object:
    """A text value that a spreadsheet would run as a formula (``=HYPERLINK(…)``, ``+1``, ``@SUM``) gets a
    leading apostrophe, as OWASP advises for CSV; other values are returned as they are."""
    if isinstance(value, str) and value.startswith(FORMULA_LEADS):
        return "'" + value
    return value


def print_table(table: pd.DataFrame, headers: Mapping[str, str] | None = None) -> None:
    """Columns padded to their widest value, numbers right-aligned and rounded, missing values blank."""
    if table.empty:
        print("(none)")
        return
    columns = [str(c) for c in table.columns]
    texts = [[format_value(column, value) for value in table[column].tolist()] for column in columns]
    titles = [(headers or {}).get(column, column) for column in columns]
    numeric = [all(NUMBER.match(t) for t in values if t) and any(values) for values in texts]
    widths = [max(len(title), *(len(t) for t in values)) for title, values in zip(titles, texts, strict=True)]

    def line(cells: list[str]) -> str:
        padded = (
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        )
        return "  ".join(padded).rstrip()

    print(line(titles))
    for row in zip(*texts, strict=True):
        print(line(list(row)))


def format_value(column: str, value: Any) -> str:
    """One value as a table shows it."""
    if isinstance(value, list):
        return as_text("; ".join(map(str, value)))
    if value is None or missing(value):
        return ""
    import numpy as np

    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, datetime):  # pandas' Timestamp too
        return timestamp(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return format_number(column, float(value))
    return as_text(value)


def format_number(column: str, value: float) -> str:
    if column in INTEGER_COLUMNS and value.is_integer():
        return str(int(value))
    if "inefficiency" in column or column.endswith(("_ohm", "fade_per_100_cycles")):
        return significant(value, 4)
    if "retention" in column or "efficiency" in column or column.endswith("_v"):
        return f"{value:.4f}"
    if column.endswith("_second"):
        return f"{value:.1f}"
    if column.endswith("_celsius") or column == "equivalent_full_cycles":
        return f"{value:.2f}"
    return significant(value, 6)


def significant(value: float, digits: int) -> str:
    import numpy as np

    text = np.format_float_positional(value, precision=digits, unique=False, fractional=False, trim="k")
    return str(text).rstrip(".")


def missing(value: Any) -> bool:
    try:
        return bool(value is None or value != value or str(value) in ("<NA>", "NaT"))  # NaN, pd.NA, NaT
    except (TypeError, ValueError):  # pd.NA refuses comparisons in a boolean context
        return True


def timestamp(value: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS` in UTC (a naive time is taken as UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def iso(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def as_text(value: Any) -> str:
    """One line of printable text: whitespace runs become one space, other control characters (a terminal
    escape sequence in a cell id) are shown escaped (``\\x1b``), never sent to the terminal."""
    return printable(" ".join(str(value).split()))


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f]")


def printable(text: str) -> str:
    """`text` with its control characters escaped as ``\\xNN``."""
    return _CONTROL.sub(lambda match: f"\\x{ord(match.group()):02x}", text)


def shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def print_file_status(found: FileStatus) -> None:
    entry = found.entry
    unreadable = entry["file_id"] is None
    lines: list[tuple[str, Any]] = [
        ("file", entry["file"]),
        ("uri", entry["uri"]),
        ("file_id", entry["file_id"]),
        ("status", entry["status"]),
    ]
    if not unreadable:
        lines += [
            ("cell", entry["cell"]),
            ("format", entry["format"]),
            ("rows", entry["rows"]),
            ("cycles", found.cycles),
            ("attempts", entry["attempts"]),
        ]
    lines += [("first_seen", utc(entry["first_seen"]))]
    if unreadable:
        lines += [("last_seen", utc(entry["updated_at"]))]
    else:
        lines += [("loaded_at", utc(entry["loaded_at"])), ("updated_at", utc(entry["updated_at"]))]
    lines += [("reason", entry["reason"])]
    for key, value in lines:
        print_field(key, "" if value is None else value)
    if not unreadable:
        warnings = entry["warnings"] or []
        print_field("warnings", "" if warnings else "none")
        for warning in warnings:
            print(f"  - {as_text(warning)}")
        print_validation(found.validation)
    if found.other_versions:
        versions = ", ".join(f"file {v['file_id']} ({v['status']})" for v in found.other_versions)
        print_field("other_versions", versions)


def print_validation(validation: Mapping[str, Any] | None) -> None:
    if validation is None:
        print_field("validation", "none")
        return
    outcome = "passed" if validation["success"] else "failed"
    warned = sum(1 for finding in validation["findings"] if finding.get("severity") == "warning")
    if validation["success"] and warned:
        outcome += f" with {warned} warning{'s' if warned > 1 else ''}"
    evaluated = validation.get("evaluated")
    counted = f", {evaluated} expectations" if evaluated is not None else ""
    print_field(
        "validation",
        f"{outcome} ({validation['stage']}, suite {validation['suite']}{counted}) at {utc(validation['at'])}",
    )
    for finding in validation["findings"]:
        rule, line, column = finding["rule"], finding["line"], finding["column"]
        text = f"{column}: {rule}" if column and column not in rule else rule
        details = []
        if finding.get("unexpected_count"):
            details.append(f"{finding['unexpected_count']} rows")
        if line is not None and f"line {line}" not in text:
            details.append(f"line {line}")
        mark = "warning: " if finding.get("severity") == "warning" else ""
        print(f"  - {mark}{as_text(text)}" + (f" ({', '.join(details)})" if details else ""))
    if validation["more_findings"]:
        print(f"  - … and {validation['more_findings']} more")
    if validation.get("report_uri"):
        print_field("report", str(validation["report_uri"]).removeprefix("file://"))


def print_field(key: str, value: Any) -> None:
    print(f"{key + ':':<15} {as_text(value)}".rstrip())


def utc(value: Any) -> str:
    if value is None or missing(value):
        return ""
    return f"{timestamp(value)} UTC"


# --- cells, cycles, fade --------------------------------------------------------------------------------
