"""blc.validation: the canonical_timeseries suite over tiny hand-made frames (and one 1M-row frame)."""

from __future__ import annotations

import json
import pickle
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

from blc.errors import BlcError
from blc.validation import (
    FailedExpectation,
    ValidationFailed,
    ValidationReport,
    assert_valid,
    load_suite,
    validate_frame,
)

ROOT = Path(__file__).resolve().parents[2]
EXPECTATIONS = ROOT / "expectations"
SUITE = "canonical_timeseries"


def canonical_frame(rows: int = 8) -> pd.DataFrame:
    return pd.DataFrame(
        {
            "test_time_second": np.arange(rows, dtype=float) * 10.0,
            "voltage_volt": np.linspace(3.0, 4.2, rows),
            "current_ampere": np.where(np.arange(rows) % 2 == 0, 1.5, -1.5),
            "cycle_index": np.repeat([1, 2], (rows + 1) // 2)[:rows],
        }
    )


def validate(frame: pd.DataFrame, first_data_line: int | None = None) -> ValidationReport:
    return validate_frame(frame, SUITE, expectations_dir=EXPECTATIONS, first_data_line=first_data_line)


def only_failure(report: ValidationReport) -> FailedExpectation:
    assert not report.success
    assert len(report.errors) == 1, report.failed
    return report.errors[0]


def test_valid_frame_passes() -> None:
    report = validate(canonical_frame(), first_data_line=2)

    assert report.success
    assert report.failed == ()
    # 11 expectations on the required columns, cycle_index's, and the 2 warnings; the cycle_count, step_count
    # and step_id expectations are dropped (the frame has no such column)
    assert report.evaluated == 14
    assert json.loads(json.dumps(report.as_dict()))["success"] is True


def test_valid_frame_without_optional_cycle_index_passes() -> None:
    report = validate(canonical_frame().drop(columns=["cycle_index"]))

    assert report.success
    assert report.evaluated == 13  # the cycle_index expectation is dropped, not failed


def test_repeated_calls_reuse_the_context() -> None:
    for _ in range(3):
        assert validate(canonical_frame()).success
        assert not validate(canonical_frame().assign(voltage_volt=50.0)).success


def test_missing_required_column_fails_naming_the_column() -> None:
    report = validate(canonical_frame().drop(columns=["voltage_volt"]))

    first = report.failed[0]
    assert not report.success
    assert first.expectation == "expect_column_to_exist"
    assert first.column == "voltage_volt"
    assert {failure.column for failure in report.failed} == {"voltage_volt"}
    assert any("does not exist" in (failure.error or "") for failure in report.failed)
    assert "voltage_volt" in report.reason("a.csv")


def test_null_voltage_reports_the_source_line() -> None:
    frame = canonical_frame()
    frame.loc[3, "voltage_volt"] = np.nan

    failure = only_failure(validate(frame, first_data_line=2))

    assert failure.expectation == "expect_column_values_to_not_be_null"
    assert failure.column == "voltage_volt"
    assert failure.unexpected_count == 1
    assert failure.first_rows == [5]
    assert failure.examples == [None]


def test_rows_are_positions_when_first_data_line_is_unknown() -> None:
    frame = canonical_frame()
    frame.loc[3, "voltage_volt"] = np.nan

    report = validate(frame)

    assert report.failed[0].first_rows == [3]
    assert "first at row 3" in report.reason("a.csv")


def test_non_default_index_is_read_by_position() -> None:
    frame = canonical_frame()
    frame.loc[3, "voltage_volt"] = np.nan
    frame.index = frame.index * 100 + 7

    assert only_failure(validate(frame, first_data_line=2)).first_rows == [5]


@pytest.mark.parametrize("value", [np.inf, -np.inf], ids=["plus-inf", "minus-inf"])
def test_infinite_current_fails(value: float) -> None:
    frame = canonical_frame()
    frame.loc[4, "current_ampere"] = value

    failure = only_failure(validate(frame, first_data_line=10))

    assert failure.column == "current_ampere"
    assert failure.first_rows == [14]
    assert failure.examples == ["inf" if value > 0 else "-inf"]


def test_decreasing_test_time_fails_naming_the_line() -> None:
    frame = canonical_frame()
    frame.loc[5, "test_time_second"] = 1.0  # after 40 s

    report = validate(frame, first_data_line=2)
    failure = only_failure(report)

    assert failure.expectation == "expect_column_values_to_be_increasing"
    assert failure.first_rows == [7]
    assert "test_time_second" in report.reason("Cell1.csv")
    assert "line 7" in report.reason("Cell1.csv")


def test_equal_test_times_pass() -> None:
    frame = canonical_frame()
    frame.loc[5, "test_time_second"] = frame.loc[4, "test_time_second"]

    assert validate(frame).success


def test_voltage_out_of_range_reason_names_file_column_line_value() -> None:
    frame = canonical_frame()
    frame.loc[[2, 6], "voltage_volt"] = [12.5, -11.0]

    report = validate(frame, first_data_line=55)
    reason = report.reason("FastCharge.csv")

    assert only_failure(report).first_rows == [57, 61]
    assert reason == (
        "FastCharge.csv: voltage_volt 12.5 V above 10 V × 1 in series (default cell window, from metadata:"
        " none), first at line 57 — 2 rows outside -10 to 10 V"
    )


def test_reason_counts_further_failures() -> None:
    frame = canonical_frame()
    frame.loc[2, "voltage_volt"] = 12.5
    frame.loc[3, "current_ampere"] = np.nan
    frame.loc[4, "cycle_index"] = 0

    report = validate(frame, first_data_line=2)
    reason = report.reason("a.csv")

    assert len(report.failed) == 3
    assert reason.startswith("a.csv: current_ampere must not be null")  # suite order, not GX's
    assert reason.endswith("; +2 more")
    assert "\n" not in reason


def test_cycle_index_zero_fails() -> None:
    frame = canonical_frame()
    frame.loc[0, "cycle_index"] = 0

    failure = only_failure(validate(frame, first_data_line=2))

    assert failure.column == "cycle_index"
    assert failure.first_rows == [2]
    assert failure.examples == [0]


def test_single_row_fails_row_count() -> None:
    report = validate(canonical_frame(1))

    failure = only_failure(report)
    assert failure.expectation == "expect_table_row_count_to_be_between"
    assert "at least 2 data rows" in report.reason("a.csv")


def test_assert_valid_raises_domain_error_with_reason() -> None:
    frame = canonical_frame().assign(voltage_volt=3700.0)  # millivolts left unconverted

    with pytest.raises(ValidationFailed) as caught:
        assert_valid(frame, SUITE, expectations_dir=EXPECTATIONS, file_label="mV.csv", first_data_line=2)

    error = caught.value
    assert isinstance(error, BlcError)
    assert error.file_label == "mV.csv"
    assert str(error) == error.report.reason("mV.csv")
    assert str(error) == (
        "mV.csv: voltage_volt 3700.0 V above 10 V × 1 in series (default cell window, from metadata: none),"
        " first at line 2 — 8 rows outside -10 to 10 V"
    )
    assert str(pickle.loads(pickle.dumps(error))) == str(error)


def test_assert_valid_returns_report_when_valid() -> None:
    report = assert_valid(canonical_frame(), SUITE, expectations_dir=EXPECTATIONS, file_label="ok.csv")

    assert report.success


def test_report_as_dict_is_json_safe() -> None:
    frame = canonical_frame()
    frame.loc[1, "current_ampere"] = np.inf
    frame.loc[2, "voltage_volt"] = np.nan

    report = validate(frame, first_data_line=2)
    as_dict = report.as_dict()

    assert json.loads(json.dumps(as_dict, allow_nan=False)) == as_dict
    assert as_dict["failed"][0]["first_rows"] == [4]


def test_suite_json_loads_and_every_expectation_has_a_rule() -> None:
    document = json.loads((EXPECTATIONS / f"{SUITE}.json").read_text(encoding="utf-8"))

    suite = load_suite(SUITE, EXPECTATIONS)

    assert suite.name == SUITE
    assert len(suite.expectations) == len(document["expectations"])
    assert all(expectation["meta"]["rule"] for expectation in document["expectations"])
    assert all(expectation.meta and expectation.meta["rule"] for expectation in suite.expectations)
    assert load_suite(SUITE, EXPECTATIONS) is suite


def test_module_imports_without_great_expectations() -> None:
    code = "import sys, blc.validation; assert 'great_expectations' not in sys.modules"

    subprocess.run(
        [sys.executable, "-c", code], check=True, cwd=ROOT, env={"PYTHONPATH": str(ROOT / "plugins")}
    )


def test_million_row_frame_validates() -> None:
    rows = 1_000_000
    frame = pd.DataFrame(
        {
            "test_time_second": np.arange(rows, dtype=float),
            "voltage_volt": np.full(rows, 3.7),
            "current_ampere": np.full(rows, -1.0),
            "cycle_index": np.repeat(np.arange(1, 1001), rows // 1000),
        }
    )

    assert validate(frame, first_data_line=2).success
