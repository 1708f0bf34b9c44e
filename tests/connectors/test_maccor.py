"""Maccor text exports on real files (tests/data/NOTICE): both flavours, signs from State, stuck counters,
per-step capacity counters, the DST-ambiguous clock, and broken files."""

from __future__ import annotations

from datetime import datetime
from pathlib import Path

import numpy as np
import pytest

from connectors import arbin, maccor, registry
from connectors.base import FileHead
from connectors.errors import CorruptFile
from processors.cycle_stats import stats_of_frame

DATA = Path(__file__).resolve().parents[1] / "data"
MACCOR = DATA / "maccor"


@pytest.mark.parametrize(
    ("name", "rows", "last_time", "rule", "cycles", "second_cycle", "second_reported"),
    [
        pytest.param(
            "PreDiag_000412_00008Fshort.022",
            10344,
            3477720.65,
            "instrument_counter",
            340,
            (4.73361, 4.70877),
            (4.73298, 4.70874),
            id="prediag-340-cycles",
        ),
        pytest.param(
            "PredictionDiagnostics_000109_tztest.010",
            2165,
            1837417.86,
            "instrument_counter",
            4,
            (2.56448, 1.83948),
            (2.58322, 1.83945),
            id="prediction-diagnostics",
        ),
        pytest.param(
            "maccor_001.txt",
            6704,
            183171.57,
            "charge_discharge_transitions:counter_stuck",
            5,
            (4.52259, 4.54402),
            (4.52256, 4.54402),  # Amp-hr restarts at the CV step: both steps counted
            id="cellpy-duration-times-cyc0",
        ),
        pytest.param(
            "xTESLADIAG_000019_CH70.070",
            11669,
            136344.95,
            "charge_discharge_transitions:counter_stuck",
            32,  # Cyc# 0, then 30 cycles under Cyc# 1, then Cyc# 2
            (2.84695, 3.02952),
            (2.84683, 3.02947),
            id="tesla-diag-stuck-counter",
        ),
    ],
)
def test_reads_real_files_with_cycles_and_capacities(
    name: str, rows: int, last_time: float, rule: str, cycles: int, second_cycle, second_reported
) -> None:
    result = registry.read(MACCOR / name)
    frame = result.frame

    assert result.format == "maccor_text"
    assert len(frame) == rows
    assert frame["test_time_second"].iloc[-1] == pytest.approx(last_time)
    cycle_rule, stats = stats_of_frame(frame)
    assert cycle_rule.value == rule
    assert len(stats) == cycles
    second = stats.iloc[1]
    assert (second["charge_capacity_ah"], second["discharge_capacity_ah"]) == pytest.approx(
        second_cycle, rel=1e-5
    )
    assert (second["reported_charge_capacity_ah"], second["reported_discharge_capacity_ah"]) == pytest.approx(
        second_reported, rel=1e-5
    )


@pytest.mark.parametrize(
    ("name", "rows", "last_time"),
    [
        pytest.param("maccor_example.001", 8, 70.002, id="bdt-example-8-rows"),
        pytest.param("maccor_test_file_4267-66-6519.041", 74, 10.0, id="eis-rest-only"),
    ],
)
def test_reads_tiny_rest_only_files(name: str, rows: int, last_time: float) -> None:
    frame = registry.read(MACCOR / name).frame
    _, stats = stats_of_frame(frame)

    assert len(frame) == rows
    assert frame["test_time_second"].iloc[-1] == pytest.approx(last_time)
    assert len(stats) == 1
    assert stats["charge_capacity_ah"].iloc[0] == 0.0
    assert not stats["complete"].iloc[0]


def test_unsigned_amps_take_their_sign_from_state() -> None:
    # PreDiag line 4: 1	1	1	0	0	0	0	0	3.89501793	R …; cycle 1 discharges at about −4.8 A (state D)
    frame = maccor.CONNECTOR.read(MACCOR / "PreDiag_000412_00008Fshort.022").frame

    assert frame["voltage_volt"].iloc[0] == pytest.approx(3.89501793)
    assert frame["current_ampere"].min() == pytest.approx(-9.6868848707)
    assert frame["current_ampere"].max() == pytest.approx(4.845960174)
    charging = frame["step_charging_capacity_ah"].notna()
    assert (frame.loc[charging, "current_ampere"] >= 0).all()
    assert (frame.loc[frame["step_discharging_capacity_ah"].notna(), "current_ampere"] <= 0).all()


def test_header_block_becomes_metadata() -> None:
    result = maccor.CONNECTOR.read(MACCOR / "xTESLADIAG_000019_CH70.070")

    assert result.metadata["procedure"] == "xTESLADIAG_000019_CH70.000"
    assert result.metadata["barcode"] == "EXP"
    assert result.metadata["source_filename"].endswith("xTESLADIAG_000019_CH70.070")
    assert "WF Chg Cap" in result.unmapped_columns


def test_duration_times_and_unplugged_thermocouples() -> None:
    # maccor_001.txt: TestTime "  0d 00:00:5" and Aux #1 reading −2501.7 °C (nothing connected)
    result = maccor.CONNECTOR.read(MACCOR / "maccor_001.txt")
    frame = result.frame

    assert frame["test_time_second"].iloc[1] == pytest.approx(5.0)
    assert "temperature_t1_celsius" not in frame
    assert "Aux #1" in result.unmapped_columns


def test_repeated_dst_hour_is_placed_by_the_test_time() -> None:
    # The test ran through 2019-11-03 01:00–02:00 Pacific, which the wall clock shows twice.
    frame = maccor.CONNECTOR.read(
        MACCOR / "PredictionDiagnostics_000109_tztest.010", timezone="America/Los_Angeles"
    ).frame
    clock_minus_test = frame["unix_time_second"] - frame["test_time_second"]

    assert frame["unix_time_second"].notna().all()
    assert (np.diff(frame["unix_time_second"]) >= 0).all()
    assert clock_minus_test.max() - clock_minus_test.min() < 10  # no 3600 s jump


def test_mims_client_flavour_with_decimal_commas_and_minutes() -> None:
    # maccor_two.txt ends with a row cut after 9 of its 28 fields: that line is left out and named, the
    # MIMS-client flavour reads: decimal commas, TestTime in minutes.
    result = registry.read(MACCOR / "maccor_two.txt")
    frame = result.frame

    assert result.warnings == ("line 229 is cut off (9 of 28 fields) and was not loaded",)
    assert result.format == "maccor_text"
    assert len(frame) == 213
    assert frame["test_time_second"].iloc[1] == pytest.approx(60.0)  # "1,000000" minutes, 60 s on DPT Time
    assert frame["voltage_volt"].iloc[0] == pytest.approx(0.1377)
    assert frame["cycle_count"].iloc[0] == 1  # "Cycle C"
    assert result.metadata["test_name"] == "KIT-SIMBA-013-2.081"
    assert result.metadata["started"] == "06/05/2021 11:23:46"


def test_sniff_accepts_maccor_and_rejects_others() -> None:
    for path in sorted(MACCOR.iterdir()):
        assert maccor.CONNECTOR.sniff(FileHead.read(path)), path.name
    assert not maccor.CONNECTOR.sniff(FileHead.read(DATA / "arbin" / "arbin_example.csv"))
    assert not arbin.CONNECTOR.sniff(FileHead.read(MACCOR / "maccor_001.txt"))


def test_non_number_names_its_line(tmp_path: Path) -> None:
    lines = (MACCOR / "maccor_example.001").read_text().splitlines(keepends=True)
    lines[4] = lines[4].replace("3.30", "x.30", 1)
    broken = tmp_path / "broken.001"
    broken.write_text("".join(lines))

    with pytest.raises(
        CorruptFile, match=r"broken.001: line 5: column 'Volts': value 'x.30\d*' is not a number"
    ):
        maccor.CONNECTOR.read(broken)


# --- Real exports that were refused, rebuilt from real files' structure -------------------------------


def _rows(path: Path) -> tuple[list[str], list[list[str]]]:
    """A Maccor file's lines before the data (header block and column header) and its data rows."""
    lines = path.read_text(encoding="utf-8", errors="replace").splitlines()
    header = maccor.find_header_line("\n".join(lines))
    assert header is not None
    return lines[:header], [line.split("\t") for line in lines[header:] if line.strip()]


def _write(path: Path, head: list[str], rows: list[list[str]], end: str = "") -> Path:
    path.write_text("\n".join([*head, *("\t".join(row) + end for row in rows)]) + "\n", encoding="utf-8")
    return path


def test_a_row_at_midnight_written_as_a_date_alone_is_midnight(tmp_path: Path) -> None:
    # maccor_example.001's rows, its clock moved to just before midnight; Maccor writes the row at exactly
    # 00:00:00 as "04/01/2016" alone
    head, rows = _rows(MACCOR / "maccor_example.001")
    clock = head[-1].split("\t").index("DPt Time")
    stamps = ["03/31/2016 23:59:40", "03/31/2016 23:59:50", "04/01/2016", "04/01/2016 00:00:10"]
    for row, stamp in zip(rows, stamps, strict=False):
        row[clock] = stamp
    path = _write(tmp_path / "midnight.001", head, rows[:4])

    frame = maccor.CONNECTOR.read(path, timezone="UTC").frame

    midnight = 1459468800.0  # 2016-04-01T00:00:00Z, by hand: 16,892 days × 86,400 s
    assert frame["unix_time_second"].tolist() == [midnight - 20, midnight - 10, midnight, midnight + 10]


def test_rows_ending_with_a_tab_read_as_the_same_table(tmp_path: Path) -> None:
    head, rows = _rows(MACCOR / "maccor_example.001")
    path = _write(tmp_path / "trailing.001", head, rows, end="\t")

    trailing = maccor.CONNECTOR.read(path).frame
    original = maccor.CONNECTOR.read(MACCOR / "maccor_example.001").frame

    assert trailing.equals(original)


def test_a_value_after_the_last_column_is_still_an_error_naming_its_line(tmp_path: Path) -> None:
    head, rows = _rows(MACCOR / "maccor_example.001")
    path = _write(tmp_path / "trailing.001", head, rows, end="\t")
    lines = path.read_text().splitlines()
    lines[len(head) + 3] += "7"  # the fourth data row
    path.write_text("\n".join(lines) + "\n")

    with pytest.raises(CorruptFile) as error:
        maccor.CONNECTOR.read(path)

    assert error.value.line == len(head) + 4 and "after the last column" in str(error.value)


def test_an_export_in_milliamps_and_millivolts_reads_in_si_units(tmp_path: Path) -> None:
    # maccor_two.txt (real, MIMS client flavour, decimal commas) rewritten in mA, mV, mAh, mWh: each value
    # × 1000 and the unit in its header, as the client writes it when asked for milli-units
    head, rows = _rows(MACCOR / "maccor_two.txt")
    columns = head[-1].split("\t")
    renamed = {"Current [A]": "Current [mA]", "Voltage [V]": "Voltage [mV]", "Cap. [Ah]": "Cap. [mAh]"}
    renamed["Ener. [Wh]"] = "Ener. [mWh]"
    for old, new in renamed.items():
        position = columns.index(old)
        columns[position] = new
        for row in rows:
            if position < len(row) and row[position].strip():
                value = float(row[position].replace(",", ".")) * 1000
                row[position] = f"{value:.6f}".replace(".", ",")
    path = _write(tmp_path / "milli.txt", [*head[:-1], "\t".join(columns)], rows)

    milli = maccor.CONNECTOR.read(path).frame
    original = maccor.CONNECTOR.read(MACCOR / "maccor_two.txt").frame

    assert list(milli.columns) == list(original.columns)
    for name in ("current_ampere", "voltage_volt", "step_charging_capacity_ah", "step_discharging_energy_wh"):
        np.testing.assert_allclose(milli[name], original[name], rtol=1e-9, atol=1e-9)


def stopped_mid_discharge(tmp_path: Path) -> Path:
    """PreDiag_000412_00008Fshort.022 (real) cut 1,714 s into the discharge step of its second cycle, where
    the channel logs a Stop record (State S, 0 A), as Maccor does when a test is stopped: the structure of
    the file the issue reported (that file itself is not public)."""
    head, rows = _rows(MACCOR / "PreDiag_000412_00008Fshort.022")
    columns = head[-1].split("\t")
    cyc, state, step_time, amps = (columns.index(n) for n in ("Cyc#", "State", "Step (Sec)", "Amps"))
    cut = next(
        k
        for k, row in enumerate(rows)
        if row[cyc] == "1" and row[state] == "D" and float(row[step_time]) > 1714
    )
    stop = list(rows[cut - 1])
    stop[0] = str(int(stop[0]) + 1)
    stop[state], stop[amps] = "S", "0.0000000000"
    return _write(tmp_path / "stopped.022", head, [*rows[:cut], stop])


def test_a_stop_record_is_the_instruments_word_that_it_stopped(tmp_path: Path) -> None:
    frame = maccor.CONNECTOR.read(stopped_mid_discharge(tmp_path)).frame

    stops = frame["instrument_stop"].to_numpy()
    assert stops[-1] == 1 and stops[:-1].sum() == 0
    assert frame["current_ampere"].iloc[-1] == 0.0


def test_midnight_as_a_date_alone_then_again_with_its_time_in_the_lab_timezone(tmp_path: Path) -> None:
    # PreDiag rows Rec# 898–1110 (the end of its first rest, the 1 s charge pulse, the next rest), its clock
    # moved so the second of Rec# 937–942 (12/19/2020 20:06:26) is midnight of 10/22/2019: Maccor writes the
    # first reading at 00:00:00 as the date alone, the next ones in full.
    head, rows = _rows(MACCOR / "PreDiag_000412_00008Fshort.022")
    clock = head[-1].split("\t").index("DPt Time")
    excerpt = [row for row in rows if 898 <= int(row[0]) <= 1110]
    shift = datetime(2019, 10, 22) - datetime(2020, 12, 19, 20, 6, 26)
    for row in excerpt:
        moved = datetime.strptime(row[clock], "%m/%d/%Y %H:%M:%S") + shift
        row[clock] = moved.strftime("%m/%d/%Y %H:%M:%S")
    at_midnight = [row for row in excerpt if row[clock] == "10/22/2019 00:00:00"]
    assert [row[0] for row in at_midnight] == ["937", "938", "939", "940", "941", "942"]
    at_midnight[0][clock] = "10/22/2019"
    path = _write(tmp_path / "midnight.022", head, excerpt)

    frame = maccor.CONNECTOR.read(path, timezone="America/Los_Angeles").frame

    # 2019-10-22 00:00 PDT (UTC−7) = 07:00 UTC: 1,546,300,800 (2019-01-01Z) + 294 days × 86,400 s + 25,200 s
    midnight = 1571727600.0
    by_record = frame.set_index("record_index")["unix_time_second"]
    assert by_record.loc[937:942].tolist() == [midnight] * 6
    assert by_record.loc[936] == midnight - 30  # "10/21/2019 23:59:30"
    assert by_record.loc[943] == midnight + 1
    assert frame["unix_time_second"].notna().all()


def test_an_export_that_starts_at_midnight_reads(tmp_path: Path) -> None:
    head, rows = _rows(MACCOR / "maccor_example.001")
    clock = head[-1].split("\t").index("DPt Time")
    for row, stamp in zip(rows, ["04/01/2016", "04/01/2016 00:00:10", "04/01/2016 00:00:20"], strict=False):
        row[clock] = stamp
    frame = maccor.CONNECTOR.read(_write(tmp_path / "midnight.001", head, rows[:3])).frame

    assert frame["unix_time_second"].tolist() == [1459468800.0, 1459468810.0, 1459468820.0]  # 2016-04-01Z


@pytest.mark.parametrize("header_too", [False, True], ids=["rows-only", "header-too"])
def test_crlf_rows_ending_with_a_tab(tmp_path: Path, header_too: bool) -> None:
    # xTESLADIAG (real, CRLF): its first 300 rows with a tab before each line end
    lines = (MACCOR / "xTESLADIAG_000019_CH70.070").read_bytes().split(b"\r\n")
    data = lines[2:302]
    header = lines[1] + (b"\t" if header_too else b"")
    path = tmp_path / "trailing.070"
    path.write_bytes(b"\r\n".join([lines[0], header, *(row + b"\t" for row in data)]) + b"\r\n")

    result = maccor.CONNECTOR.read(path)
    frame = result.frame

    assert len(frame) == 300 and result.warnings == ()
    volts = [float(row.split(b"\t")[8]) for row in data]  # the file's own Volts column
    assert frame["voltage_volt"].tolist() == volts


def _scaled(text: str, power: int) -> str:
    """A decimal number written with its point moved `power` places right (exact: no float rounding)."""
    sign, text = ("-", text[1:]) if text.startswith("-") else ("", text)
    whole, _, fraction = text.partition(".")
    fraction = fraction.ljust(power, "0")
    digits = (whole + fraction[:power]).lstrip("0") or "0"
    return f"{sign}{digits}.{fraction[power:]}" if fraction[power:] else f"{sign}{digits}"


@pytest.mark.parametrize(
    ("source", "names"),
    [
        pytest.param(
            "PreDiag_000412_00008Fshort.022",
            {
                "Amps": "Current (mA)",
                "Volts": "Voltage (mV)",
                "Amp-hr": "Capacity (mAh)",
                "Watt-hr": "Energy (mWh)",
            },
            id="units-in-parentheses",
        ),
        pytest.param(
            "maccor_001.txt",
            {"Amps": "mAmps", "Amp-hr": "mAmp-hr", "Watt-hr": "mWatt-hr"},  # cellpy's WMG/SIMBA dialect
            id="milli-words",
        ),
    ],
)
def test_milli_unit_exports_read_in_si(tmp_path: Path, source: str, names: dict[str, str]) -> None:
    # the real file's first 1,500 rows rewritten in milli-units: each value's decimal point moved 3 places
    head, rows = _rows(MACCOR / source)
    rows = rows[:1500]
    columns = head[-1].split("\t")
    positions = {columns.index(old): new for old, new in names.items()}
    for position, new in positions.items():
        columns[position] = new
        for row in rows:
            row[position] = _scaled(row[position].strip(), 3)
    path = _write(tmp_path / f"milli_{source}", [*head[:-1], "\t".join(columns)], rows)

    result = registry.read(path)
    frame = result.frame

    assert result.format == "maccor_text"
    state = columns.index("State")
    for old, new in names.items():
        milli = np.array([float(row[columns.index(new)]) for row in rows]) / 1000  # the file's numbers / 1000
        if old == "Amps":
            sign = np.array([{"C": 1.0, "D": -1.0}.get(row[state].strip(), 1.0) for row in rows])
            np.testing.assert_allclose(frame["current_ampere"], sign * np.abs(milli), rtol=1e-12)
        elif old == "Volts":
            np.testing.assert_allclose(frame["voltage_volt"], milli, rtol=1e-12)
        else:
            kind = "capacity_ah" if old == "Amp-hr" else "energy_wh"
            charging = np.array([row[state].strip() == "C" for row in rows])
            np.testing.assert_allclose(frame[f"step_charging_{kind}"][charging], milli[charging], rtol=1e-12)
    original = maccor.CONNECTOR.read(MACCOR / source).frame.iloc[:1500]
    np.testing.assert_allclose(frame["current_ampere"], original["current_ampere"], rtol=1e-12, atol=1e-15)


def test_every_maccor_frame_says_whether_the_instrument_stopped() -> None:
    for name in (
        "PreDiag_000412_00008Fshort.022",
        "PredictionDiagnostics_000109_tztest.010",
        "maccor_001.txt",
    ):
        frame = maccor.CONNECTOR.read(MACCOR / name).frame
        assert str(frame["instrument_stop"].dtype) == "Int64"
        # no State S in these files; the last row of the last two is the End step's O record (ES 193)
        assert frame["instrument_stop"].sum() == 0, name


def test_the_stop_record_is_the_last_row_of_a_discharge_cut_at_1714_s(tmp_path: Path) -> None:
    path = stopped_mid_discharge(tmp_path)
    rows = [line.split("\t") for line in path.read_text().splitlines()[2:]]
    columns = path.read_text().splitlines()[1].split("\t")
    state, step_time = columns.index("State"), columns.index("Step (Sec)")

    frame = maccor.CONNECTOR.read(path).frame

    # the file's own rows: the S record closes a D step whose last reading is just under 1714 s
    assert rows[-1][state] == "S" and rows[-2][state] == "D" and float(rows[-2][step_time]) <= 1714
    assert frame["instrument_stop"].tolist() == [0] * (len(rows) - 1) + [1]
