"""batterydata.energy.gov raw CSV connector on a real excerpt (tests/data/NOTICE), checked against the
source's own per-cycle summary of the same cell."""

from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest

from connectors import batterydata
from connectors.base import REQUIRED_COLUMNS, FileHead
from connectors.errors import CorruptFile
from processors.cycle_stats import stats_of_frame

DATA = Path(__file__).resolve().parents[1] / "data"
FILE = DATA / "batterydata" / "p492-13-raw.csv"
SUMMARY = DATA / "batterydata" / "p492-13-summary.csv"


def test_reads_real_file() -> None:
    result = batterydata.CONNECTOR.read(FILE)
    frame = result.frame

    assert result.format == "batterydata_csv"
    assert len(frame) == 2021
    assert set(REQUIRED_COLUMNS) <= set(frame.columns)
    assert result.first_data_line == 2
    assert frame["test_time_second"].iloc[0] == 0.0
    assert frame["test_time_second"].iloc[-1] == pytest.approx(305712.498)
    # line 1000: 4,112,193899.768,0.01757254,0.06496106,-0.01899748,3.4290837,29.8776,29.5879,737795.466180556,…
    row = frame.iloc[1000 - 2]
    assert row["cycle_count"] == 4
    assert row["step_id"] == 112
    assert row["test_time_second"] == pytest.approx(193899.768)
    assert row["current_ampere"] == pytest.approx(-0.01899748)  # discharge already negative
    assert row["voltage_volt"] == pytest.approx(3.4290837)
    assert row["surface_temperature_celsius"] == pytest.approx(29.8776)
    assert row["power_watt"] == pytest.approx(0.065143949009076)
    # MATLAB datenum 737795.466180556 (days since year 0) read as UTC: 2020-01-05 11:11:18
    assert row["unix_time_second"] == pytest.approx((737795.466180556 - 719529) * 86400)
    assert row["unix_time_second"] == pytest.approx(1578222678.0, abs=0.01)
    assert (frame["current_ampere"] > 0.019).any()  # charge positive
    assert result.metadata["cell_id"] == "p492-13"


def test_lab_timezone_applies_to_datenum() -> None:
    utc = batterydata.CONNECTOR.read(FILE).frame["unix_time_second"]
    denver = batterydata.CONNECTOR.read(FILE, timezone="America/Denver").frame["unix_time_second"]

    assert (denver - utc).to_numpy() == pytest.approx(7 * 3600)  # MST = UTC−7 in January


def test_per_step_counters_map_to_the_step_scope() -> None:
    result = batterydata.CONNECTOR.read(FILE)

    for column in ("Amphr", "Watthr", "Temp2", "Z_Real_Ohm"):
        assert column in result.unmapped_columns
    assert "Charge_Capacity_Ah" not in result.unmapped_columns
    assert {c for c in result.frame.columns if "capacity" in c or "energy" in c} == {
        "step_charging_capacity_ah",
        "step_discharging_capacity_ah",
        "step_charging_energy_wh",
        "step_discharging_energy_wh",
    }


def test_cycle_stats_first_cycles() -> None:
    frame = batterydata.CONNECTOR.read(FILE).frame

    rule, stats = stats_of_frame(frame)

    assert rule == "instrument_counter"
    assert len(stats) == 9
    assert stats["cycle_index"].tolist() == list(range(1, 10))
    assert stats["charge_capacity_ah"].iloc[0] == 0.0
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(0.0007170268361166666, rel=1e-6)
    assert stats["charge_capacity_ah"].iloc[1] == pytest.approx(0.021868216990283327, rel=1e-6)
    assert stats["discharge_capacity_ah"].iloc[1] == pytest.approx(0.02173635013744164, rel=1e-6)
    assert stats["charge_capacity_ah"].iloc[2] == pytest.approx(0.010596266012858289, rel=1e-6)
    assert stats["charge_capacity_ah"].iloc[3] == pytest.approx(0.030755585931750033, rel=1e-6)
    # the per-step counters summed over each cycle's steps: what the instrument counted
    assert stats["reported_discharge_capacity_ah"].iloc[1] == pytest.approx(0.021738, rel=1e-4)
    assert stats["reported_charge_capacity_ah"].iloc[3] == pytest.approx(0.01112006 + 0.01964203, rel=1e-4)


def test_cycle_capacities_agree_with_the_sources_summary() -> None:
    """The Data Hub's summary (all 267 cycles) against our integration of the raw excerpt (cycles 1–9).

    Cycles with one charge and one discharge segment agree within the excerpt's sampling error (≤ 2.5 %; the
    excerpt keeps only a few points of short segments). The summary takes the LARGEST per-segment counter of a
    cycle, so a cycle with two charge segments (4) or many HPPC pulses (5) reads lower there than the total we
    integrate."""
    _, stats = stats_of_frame(batterydata.CONNECTOR.read(FILE).frame)
    summary = pd.read_csv(SUMMARY).set_index("Cycle_Index")
    ours = stats.set_index("cycle_index")

    assert len(summary) == 267
    for cycle in (1, 2, 3, 6, 8, 9):
        for our_name, their_name in (("charge_capacity_ah", "Q_chg"), ("discharge_capacity_ah", "Q_dis")):
            theirs = summary.loc[cycle, their_name]
            if pd.isna(theirs):
                assert ours.loc[cycle, our_name] == 0.0
            else:
                assert ours.loc[cycle, our_name] == pytest.approx(theirs, rel=2.5e-2), (cycle, our_name)
    assert ours.loc[2, "charge_capacity_ah"] == pytest.approx(summary.loc[2, "Q_chg"], rel=2e-4)
    assert ours.loc[2, "discharge_capacity_ah"] == pytest.approx(summary.loc[2, "Q_dis"], rel=2e-4)
    # Cycle 4 charges twice: steps 106–108 reach 0.01112006 Ah and steps 116–118 0.01964203 Ah (the file's
    # Charge_Capacity_Ah); the summary keeps the larger, we count both.
    assert summary.loc[4, "Q_chg"] == pytest.approx(0.01964203, rel=1e-4)
    assert ours.loc[4, "charge_capacity_ah"] == pytest.approx(0.01112006 + 0.01964203, rel=1e-3)
    assert ours.loc[5, "discharge_capacity_ah"] > 10 * summary.loc[5, "Q_dis"]


@pytest.mark.parametrize(
    "other",
    [
        "arbin/arbin_example.csv",
        "batteryarchive/CALCE_CX2-33_prism_LCO_25C_0-100_0.5-0.5C_d_timeseries.csv",
        "batterydata/p492-13-summary.csv",
        "maccor/maccor_example.001",
        "novonix/test_Nova_Form-CH01-01_short.csv",
        "pec/pec.csv",
    ],
)
def test_sniff_accepts_batterydata_raw_only(other: str) -> None:
    assert batterydata.CONNECTOR.sniff(FileHead.read(FILE))
    assert not batterydata.CONNECTOR.sniff(FileHead.read(DATA / other))


def _corrupt(tmp_path: Path, mutate) -> Path:  # type: ignore[no-untyped-def]
    lines = FILE.read_bytes().splitlines(keepends=True)
    path = tmp_path / "broken-raw.csv"
    path.write_bytes(b"".join(mutate(lines)))
    return path


@pytest.mark.parametrize(
    ("mutate", "line", "words"),
    [
        pytest.param(
            lambda ls: [*ls[:500], ls[500][:40] + b"\n", *ls[501:]],
            501,
            "fields, found",
            id="truncated-mid-row",
        ),
        pytest.param(
            lambda ls: [*ls[:999], ls[999].replace(b",3.4290837,", b",3.42x0837,"), *ls[1000:]],
            1000,
            "'Voltage_V': value '3.42x0837' is not a number",
            id="text-in-number",
        ),
    ],
)
def test_corrupt_file_names_line(tmp_path: Path, mutate, line: int, words: str) -> None:  # type: ignore[no-untyped-def]
    path = _corrupt(tmp_path, mutate)

    with pytest.raises(CorruptFile) as caught:
        batterydata.CONNECTOR.read(path)

    assert caught.value.line == line
    assert str(caught.value).startswith("broken-raw.csv: line ")
    assert words in str(caught.value)
