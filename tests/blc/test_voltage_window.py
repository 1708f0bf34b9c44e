"""The voltage window each file is validated against: its chemistry's cell window × cells in series, from its
metadata (blc.voltage_window), applied per run to the canonical suite's template (blc.validation), and an
ingest that loads a 12S module with its metadata, refuses it without, and refuses an LFP cell at 4.8 V.

The generated Arbin CSVs (BEEP's header) hold one CC charge and one CC discharge at 2 A, 10 s apart, with
the voltages given: a 12S NMC module between 12 × 3.0 = 36.0 V and 12 × 4.15 = 49.8 V.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from blc.validation import validate_frame
from blc.voltage_window import DEFAULT_CELL, LFP, LI_ION_OXIDE, LTO, voltage_window
from connectors.sidecars import SidecarError

EXPECTATIONS = Path(__file__).resolve().parents[2] / "expectations"
HEADER = (
    "Data_Point,Test_Time,DateTime,Step_Time,Step_Index,Cycle_Index,Current,Voltage,Charge_Capacity,"
    "Discharge_Capacity,Charge_Energy,Discharge_Energy,Internal_Resistance,Temperature"
)
CURRENT_A, SAMPLE_S = 2.0, 10.0


def charge_then_discharge(
    low_volt: float, high_volt: float, samples: int = 50
) -> tuple[np.ndarray, np.ndarray]:
    """Voltages and currents: `samples` rising at +2 A from low to high, then `samples` falling at -2 A."""
    rising = np.linspace(low_volt, high_volt, samples)
    volts = np.concatenate([rising, rising[::-1]])
    currents = np.concatenate([np.full(samples, CURRENT_A), np.full(samples, -CURRENT_A)])
    return volts, currents


def write_arbin_csv(path: Path, volts: np.ndarray, currents: np.ndarray) -> Path:
    t = np.arange(volts.size) * SAMPLE_S
    dt = np.diff(t, prepend=0.0)
    charged = np.cumsum(np.clip(currents, 0, None) * dt) / 3600
    discharged = np.cumsum(np.clip(-currents, 0, None) * dt) / 3600
    lines = [HEADER]
    for i in range(volts.size):
        step = 1 if currents[i] > 0 else 2
        lines.append(
            f"{i + 1},{t[i]:.1f},{1_700_000_000 + t[i]:.1f},{t[i]:.1f},{step},1,{currents[i]:.4f},{volts[i]:.4f},"
            f"{charged[i]:.6f},{discharged[i]:.6f},{charged[i] * 40:.6f},{discharged[i] * 40:.6f},0.05,25.0"
        )
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_nothing_stated_is_the_suites_old_window() -> None:
    window = voltage_window({})

    assert window.cell is DEFAULT_CELL and window.series == 1
    assert (window.min_volt, window.max_volt) == (-10.0, 10.0)
    assert window.describe() == "-10 to 10 V × 1 in series (default cell window, from metadata: none)"


@pytest.mark.parametrize(
    ("metadata", "cell", "bounds", "basis"),
    [
        pytest.param({"chemistry": "LFP/graphite"}, LFP, (-2.0, 4.5), "chemistry 'LFP/graphite'", id="lfp"),
        pytest.param({"chemistry": "LiFePO4"}, LFP, (-2.0, 4.5), "chemistry 'LiFePO4'", id="lifepo4"),
        pytest.param(
            {"chemistry": "NMC811/graphite", "cells_in_series": 12},
            LI_ION_OXIDE,
            (-24.0, 66.0),
            "chemistry 'NMC811/graphite', cells_in_series 12",
            id="nmc-12s",
        ),
        pytest.param({"cathode": "NMC532", "anode": "LTO"}, LTO, (-2.0, 4.0), "anode 'LTO'", id="lto-anode"),
        pytest.param(
            {"cells_in_series": 4}, DEFAULT_CELL, (-40.0, 40.0), "cells_in_series 4", id="series-only"
        ),
    ],
)
def test_chemistry_and_series_set_the_window(
    metadata: dict[str, object], cell: object, bounds: tuple[float, float], basis: str
) -> None:
    window = voltage_window(metadata)

    assert window.cell is cell
    assert (window.min_volt, window.max_volt) == pytest.approx(bounds)
    assert window.basis == basis


def test_a_half_cell_takes_the_half_cell_window_whatever_its_cathode() -> None:
    window = voltage_window({"half_cell": True, "cathode": "LFP"})

    assert window.cell.name == "half-cell vs Li/Na metal"
    assert (window.min_volt, window.max_volt) == (-2.0, 5.5)


def test_a_series_count_that_is_no_whole_number_is_refused() -> None:
    with pytest.raises(
        SidecarError, match=r"^the file.s metadata: cells_in_series 2.5 is not a whole number"
    ):
        voltage_window({"cells_in_series": 2.5})


def test_the_window_is_applied_per_run() -> None:
    volts, currents = charge_then_discharge(36.0, 49.8)
    frame = pd.DataFrame(
        {
            "test_time_second": np.arange(volts.size) * SAMPLE_S,
            "voltage_volt": volts,
            "current_ampere": currents,
        }
    )

    module = voltage_window({"chemistry": "NMC", "cells_in_series": 12})
    assert validate_frame(frame, "canonical_timeseries", expectations_dir=EXPECTATIONS, window=module).success

    report = validate_frame(frame, "canonical_timeseries", expectations_dir=EXPECTATIONS, first_data_line=2)
    assert report.reason("module.csv") == (
        "module.csv: voltage_volt 36.0 V above 10 V × 1 in series (default cell window, from metadata: none),"
        " first at line 2 — 100 rows outside -10 to 10 V"
    )
    # The same runner again, with the module's window: nothing of the last run's bounds stays behind.
    assert validate_frame(frame, "canonical_timeseries", expectations_dir=EXPECTATIONS, window=module).success
    below = frame.assign(voltage_volt=frame["voltage_volt"] - 80.0)
    failed = validate_frame(below, "canonical_timeseries", expectations_dir=EXPECTATIONS, window=module)
    assert failed.failed[0].describe(rows_are_lines=False) == (
        "voltage_volt -44.0 V below -2 V × 12 in series (NMC/NCA/LCO/LMO Li-ion cell window, from metadata:"
        " chemistry 'NMC', cells_in_series 12), first at row 0 — 100 rows outside -24 to 66 V"
    )


@pytest.mark.integration
def test_a_12s_module_loads_with_its_metadata(
    engine, blc_env: Path, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    from blc import pipeline

    path = write_arbin_csv(blc_env / "module_12s.csv", *charge_then_discharge(36.0, 49.8))
    (blc_env / "module_12s.csv.meta.yaml").write_text("chemistry: NMC622/graphite\ncells_in_series: 12\n")

    with caplog.at_level(logging.INFO, logger="blc.validation"):
        outcome, _ = pipeline.ingest(path.as_uri())

    assert outcome.status == "loaded", outcome.reason
    assert outcome.rows == 100
    assert (
        "module_12s.csv: voltage_volt 36 to 49.8 V within -2 to 5.5 V × 12 in series = -24 to 66 V"
        " (NMC/NCA/LCO/LMO Li-ion cell window, from metadata: chemistry 'NMC622/graphite', cells_in_series 12)"
    ) in caplog.messages
    with engine.connect() as conn:
        assert conn.execute(sa.text("select metadata -> 'cells_in_series' from blc.cell")).scalar_one() == 12


@pytest.mark.integration
def test_a_manifest_may_say_12s(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    from blc import pipeline

    path = write_arbin_csv(blc_env / "pack_a.csv", *charge_then_discharge(36.0, 49.8))
    (blc_env / "cells.csv").write_text("file,series\npack_*.csv,12S1P\n")

    outcome, _ = pipeline.ingest(path.as_uri())

    assert outcome.status == "loaded", outcome.reason


@pytest.mark.integration
def test_the_same_module_without_metadata_is_quarantined_naming_the_limit(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    from blc import pipeline

    path = write_arbin_csv(blc_env / "module_12s.csv", *charge_then_discharge(36.0, 49.8))

    outcome, _ = pipeline.ingest(path.as_uri())

    assert outcome.status == "quarantined"
    assert outcome.reason == (
        "module_12s.csv: voltage_volt 36.0 V above 10 V × 1 in series (default cell window, from metadata:"
        " none), first at line 2 — 100 rows outside -10 to 10 V"
    )
    with engine.connect() as conn:
        failed = conn.execute(sa.text("select failed_expectations from blc.validation_result")).scalar_one()
    assert failed[0]["limits"]["max"] == 10.0
    assert failed[0]["rule"] == (
        "voltage_volt must be within -10 to 10 V × 1 in series (default cell window, from metadata: none)"
    )


@pytest.mark.integration
def test_an_lfp_cell_at_4_8_volt_is_refused_naming_the_lfp_window(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    from blc import pipeline

    volts, currents = charge_then_discharge(2.5, 3.6)
    volts[49] = 4.8  # the last charge sample: line 51 (header on line 1, 50th data row)
    path = write_arbin_csv(blc_env / "lfp_overcharged.csv", volts, currents)
    (blc_env / "lfp_overcharged.csv.meta.yaml").write_text("chemistry: LFP\n")

    outcome, _ = pipeline.ingest(path.as_uri())

    assert outcome.status == "quarantined"
    assert outcome.reason == (
        "lfp_overcharged.csv: voltage_volt 4.8 V above 4.5 V × 1 in series (LFP cell window, from metadata:"
        " chemistry 'LFP'), first at line 51 — 1 row outside -2 to 4.5 V"
    )
