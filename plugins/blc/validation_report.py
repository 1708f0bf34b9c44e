"""What a validation run found, in a form that fits a reason, a jsonb column and an XCom.

`FailedExpectation` is one expectation that did not pass, reduced to its column, rule, count, first offending
lines and values; `ValidationReport` is one suite over one frame; `ValidationFailed` carries a report and
its one-line quarantine reason, e.g. ``FastCharge.csv: current_ampere must not be null — 3 rows fail, first
at line 57 (value null)``. Running the suites is `blc.validation`.
"""

from __future__ import annotations

import math
import numbers
import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from blc.errors import BlcError

#: First offending rows and values kept per failed expectation.
MAX_EXAMPLES = 5
#: Severities an expectation's meta may give (``severity``); error when it gives none.
ERROR = "error"
WARNING = "warning"
SEVERITIES = (ERROR, WARNING)
_MAX_ERROR_CHARS = 300
_MISSING_COLUMN = re.compile(r'The column "(?P<column>.*)" in BatchData does not exist\.?')


@dataclass(frozen=True)
class FailedExpectation:
    """One expectation that did not pass, reduced to what a reason and the ledger need."""

    expectation: str
    column: str | None
    rule: str
    unexpected_count: int | None = None
    # Source line numbers when first_data_line was given, else 0-based row positions.
    first_rows: list[int] = field(default_factory=list)
    examples: list[Any] = field(default_factory=list)
    error: str | None = None
    #: Bounds set per file (a voltage window): min, max, unit, each bound as phrased ("above", "below":
    #: "4.5 V × 1 in series (LFP cell window, from metadata: chemistry 'LFP')").
    limits: dict[str, Any] | None = None
    #: ``error`` quarantines the file; ``warning`` is recorded and the file loads (the suite's meta).
    severity: str = "error"

    def describe(self, *, rows_are_lines: bool = True) -> str:
        """One phrase: the rule, then what broke it (count, first line or row, first value)."""
        outside = self._outside(rows_are_lines)
        if outside is not None:
            return outside
        rule = self.rule
        if self.column and self.column not in rule:
            rule = f"{self.column}: {rule}"
        if self.error:
            missing = _MISSING_COLUMN.search(self.error)
            detail = f'column "{missing["column"]}" is missing' if missing else self.error[:_MAX_ERROR_CHARS]
            return f"{rule} — {detail}"
        if self.unexpected_count:
            count = self.unexpected_count
            text = f"{rule} — {count} {'row fails' if count == 1 else 'rows fail'}"
            if self.first_rows:
                text += f", first at {'line' if rows_are_lines else 'row'} {self.first_rows[0]}"
            if self.examples:
                text += f" (value {_format_value(self.examples[0])})"
            return text
        if self.expectation == "expect_column_to_exist":
            return f"{rule} — column is missing"
        if self.examples:
            observed = self.examples[0]
            shown = f"{observed:.3g}" if isinstance(observed, float) else _format_value(observed)
            return f"{rule} — observed {shown}"
        return f"{rule} — failed"

    def _outside(self, rows_are_lines: bool) -> str | None:
        """A value beyond per-file bounds, phrased with the bound it crossed and where that came from."""
        limits = self.limits
        if limits is None or self.error or not self.examples:
            return None
        value = self.examples[0]
        if isinstance(value, str) and value in ("inf", "-inf"):
            value = float(value)
        if not isinstance(value, int | float) or isinstance(value, bool):
            return None
        side = "above" if value > limits["max"] else "below"
        unit = limits["unit"]
        text = f"{self.column} {_format_value(value)} {unit} {side} {limits[side]}"
        if self.first_rows:
            text += f", first at {'line' if rows_are_lines else 'row'} {self.first_rows[0]}"
        count = self.unexpected_count or 1
        window = f"{limits['min']:g} to {limits['max']:g} {unit}"
        text += f" — {count} {'row' if count == 1 else 'rows'} outside {window}"
        return text

    def as_dict(self) -> dict[str, Any]:
        return {
            "expectation": self.expectation,
            "column": self.column,
            "rule": self.rule,
            "unexpected_count": self.unexpected_count,
            "first_rows": list(self.first_rows),
            "examples": [json_safe(value) for value in self.examples],
            "error": self.error,
            "limits": self.limits,
            "severity": self.severity,
        }


@dataclass(frozen=True)
class ValidationReport:
    """Outcome of one suite over one frame; ``as_dict()`` fits a jsonb column and an XCom."""

    suite: str
    success: bool
    evaluated: int
    failed: tuple[FailedExpectation, ...] = ()
    # When set, FailedExpectation.first_rows are source line numbers; when None, row positions.
    first_data_line: int | None = None

    @property
    def errors(self) -> tuple[FailedExpectation, ...]:
        return tuple(f for f in self.failed if f.severity != WARNING)

    @property
    def warnings(self) -> tuple[FailedExpectation, ...]:
        return tuple(f for f in self.failed if f.severity == WARNING)

    def reason(self, file_label: str) -> str:
        """One line naming the file and the first error in suite order (else the first warning), then
        "+N more"."""
        if not self.failed:
            outcome = "passed" if self.success else "failed"
            return f"{file_label}: {outcome} suite {self.suite} ({self.evaluated} expectations)"
        ordered = self.errors + self.warnings
        first = ordered[0].describe(rows_are_lines=self.first_data_line is not None)
        more = len(self.errors) - 1 if self.errors else len(self.warnings) - 1
        text = f"{file_label}: {first}" + (f"; +{more} more" if more else "")
        return " ".join(text.split())  # one line, whatever a GX message contained

    def as_dict(self) -> dict[str, Any]:
        return {
            "suite": self.suite,
            "success": self.success,
            "evaluated": self.evaluated,
            "first_data_line": self.first_data_line,
            "failed": [failure.as_dict() for failure in self.failed],
        }


class ValidationFailed(BlcError):
    """A frame broke its suite: the file is quarantined with ``str(error)`` as the reason."""

    def __init__(self, report: ValidationReport, file_label: str) -> None:
        super().__init__(report.reason(file_label))
        self.report = report
        self.file_label = file_label

    def __reduce__(self) -> tuple[Any, ...]:
        # Exceptions pickle as cls(*args); ours takes the report, not the message.
        return (type(self), (self.report, self.file_label))


def exception_text(exception_info: Any) -> str | None:
    """GX puts either one {raised_exception, exception_message} or one such dict per metric."""
    if not exception_info:
        return None
    entries: Sequence[Any] = (
        [exception_info] if "raised_exception" in exception_info else list(exception_info.values())
    )
    messages: list[str] = []
    for entry in entries:
        if isinstance(entry, Mapping):
            raised, message = entry.get("raised_exception"), entry.get("exception_message")
        else:
            raised, message = (
                getattr(entry, "raised_exception", False),
                getattr(entry, "exception_message", None),
            )
        if raised and message:
            text = str(message).removeprefix("Error: ").strip()
            if text not in messages:
                messages.append(text)
    return "; ".join(messages) or None


def json_safe(value: Any) -> Any:
    if getattr(value, "shape", None) == () and callable(getattr(value, "item", None)):
        value = value.item()  # numpy scalar (np.float64, np.bool_, np.datetime64 …) to Python
    if value is None or isinstance(value, bool | str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        number = float(value)
        if math.isnan(number):
            return None
        if math.isinf(number):
            return "inf" if number > 0 else "-inf"
        return number
    if isinstance(value, list | tuple):
        return [json_safe(item) for item in value]
    if isinstance(value, Mapping):
        return {str(key): json_safe(item) for key, item in value.items()}
    try:
        import pandas as pd

        if pd.isna(value) is True:  # pd.NA, NaT
            return None
    except (TypeError, ValueError):
        pass
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def _format_value(value: Any) -> str:
    if value is None:
        return "null"
    if isinstance(value, str) and value not in ("inf", "-inf"):
        return repr(value)
    return str(value)
