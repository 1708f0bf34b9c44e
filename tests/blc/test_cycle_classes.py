"""Cycle classes and what counts towards fade, end to end (ingest → cycle_stats → capacity_fade →
cell_summary): a generated diagnostic protocol whose cycle kinds are known by design, and real files whose
own columns say what their cycles were."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from blc import pipeline
from tests.processors.protocols import Protocol

pytestmark = pytest.mark.integration

DATA = Path(__file__).resolve().parents[1] / "data"


def _summary(engine, cell_id: str) -> dict:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        summary = (
            conn.execute(sa.text("select * from blc.cell_summary where cell_id = :c"), {"c": cell_id})
            .mappings()
            .one()
        )
        classes = (
            conn.execute(
                sa.text("select cycle_class from blc.cycle_stats where cell_id = :c order by cycle_index"),
                {"c": cell_id},
            )
            .scalars()
            .all()
        )
    return {**summary, "classes": list(classes)}


def test_a_diagnostic_protocol_fades_on_its_ageing_cycles_and_its_checks_apart(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    # Ageing at 2 A delivers 2.0 Ah less 0.02 Ah per ageing cycle; a slow 0.1 A check after every 4th
    # ageing cycle delivers 2.1 Ah less 0.01 Ah per check (the slow rate reaches more of the capacity); a 2C
    # rate test delivers 1.2 Ah. Retention across all of them swings from 57 % to 105 %; within each
    # series it is what the design says.
    protocol, ageing_capacity, check_capacity = Protocol(dt_second=60.0), 2.0, 2.1
    expected = []
    for block in range(4):
        for _ in range(4):
            protocol.full_cycle(1.0, 2.0, capacity_ah=ageing_capacity)
            expected.append("ageing")
            ageing_capacity -= 0.02
        protocol.full_cycle(0.1, 0.1, capacity_ah=check_capacity)
        expected.append("reference")
        check_capacity -= 0.01
        if block == 1:
            protocol.full_cycle(1.0, 4.0, capacity_ah=1.2)
            expected.append("rate")
    frame = protocol.frame().drop(columns="instrument_stop")
    path = blc_env / "diagnostic.bdf.csv"
    frame.to_csv(path, index=False)

    pipeline.ingest(path.as_uri())
    summary = _summary(engine, "diagnostic.bdf")

    assert summary["classes"] == expected
    assert summary["ageing_cycles"] == 16 and summary["reference_check_cycles"] == 4
    # ageing reference: median of the first three ageing cycles (2.00, 1.98, 1.96) = 1.98; the last ageing
    # cycle delivers 2.00 − 15 × 0.02 = 1.70
    assert summary["reference_capacity_ah"] == pytest.approx(1.98, rel=2e-3)
    assert summary["last_retention"] == pytest.approx(1.70 / 1.98, rel=2e-3)
    # the checks' own reference: median of 2.10, 2.09, 2.08; the last check 2.07
    assert summary["reference_check_capacity_ah"] == pytest.approx(2.09, rel=2e-3)
    assert summary["reference_check_last_retention"] == pytest.approx(2.07 / 2.09, rel=2e-3)
    assert summary["cycles_to_80"] is None  # 1.70 / 1.98 = 0.859
    assert summary["fade_per_100_cycles"] > 0


def test_a_maccor_test_whose_last_cycle_runs_at_another_rate_has_no_false_end_of_life(
    engine, blc_env: Path
) -> None:  # type: ignore[no-untyped-def]
    # PredictionDiagnostics_000109_tztest.010 (real): cycles 1-3 discharge at 0.968 A to 2.7 V, then a
    # diagnostic discharge at 2.42 A (the file's Amps column) ends the file: measured against the slow
    # cycles it read as 28 % retention and "cycles_to_80 = 4".
    source = blc_env / "tztest.010"
    shutil.copy(DATA / "maccor" / "PredictionDiagnostics_000109_tztest.010", source)

    pipeline.ingest(source.as_uri())
    summary = _summary(engine, "tztest")

    assert summary["classes"] == ["ageing", "ageing", "ageing", "rate"]
    assert summary["cycles_to_80"] is None and summary["cycles_to_70"] is None
    assert summary["last_retention"] > 0.9


def test_an_anode_half_cell_is_recognised_from_its_voltage_window(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    # neware_uio.csv (real, no sidecar): the instrument cycled it between 0.05 and 1.0 V, graphite against
    # lithium; cycle 3 holds two charge/discharge pairs under one counter value (4 segments), cycle 4 was
    # still running at the end of the file.
    source = blc_env / "neware_uio.csv"
    shutil.copy(DATA / "neware" / "neware_uio.csv", source)

    pipeline.ingest(source.as_uri())
    summary = _summary(engine, "neware_uio")

    assert summary["half_cell"] is True and summary["half_cell_basis"] == "voltage window"
    assert summary["classes"] == ["ageing", "ageing", "hppc", "partial"]
    # fade follows the delithiation (charge) capacity: cycles 1 and 2 delivered the same within 0.1 %
    assert summary["last_retention"] == pytest.approx(1.0, abs=2e-3)
    assert summary["coulombic_inefficiency_recent"] is None  # full-cell CE above 1 on a half-cell


def test_a_full_cell_is_not_taken_for_a_half_cell(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    source = blc_env / "tesla.070"
    shutil.copy(DATA / "maccor" / "xTESLADIAG_000019_CH70.070", source)

    pipeline.ingest(source.as_uri())
    summary = _summary(engine, "tesla")

    assert summary["half_cell"] is None and summary["half_cell_basis"] is None


def test_a_test_stopped_mid_discharge_does_not_fake_end_of_life(
    engine, blc_env: Path, tmp_path: Path
) -> None:  # type: ignore[no-untyped-def]
    # A real Maccor file cut 1,714 s into its second cycle's discharge (which runs ~24,500 s to 2.7 V in the
    # first cycle), ending with a Stop record at 0 A: the file ends at rest, so only the instrument's word
    # (state S) or the cut-off against the first cycle tells that the discharge is a fraction of the truth.
    from tests.connectors.test_maccor import stopped_mid_discharge

    source = blc_env / "stopped.022"
    shutil.copy(stopped_mid_discharge(tmp_path), source)

    pipeline.ingest(source.as_uri())
    summary = _summary(engine, "stopped")
    with engine.connect() as conn:
        last = (
            conn.execute(
                sa.text(
                    "select * from blc.cycle_stats where cell_id = 'stopped' order by cycle_index desc limit 1"
                )
            )
            .mappings()
            .one()
        )

    assert last["complete"] is False and "stopped" in last["flags"] and last["cycle_class"] == "partial"
    assert summary["cycles_to_80"] is None and summary["cycles_to_70"] is None
    assert summary["last_retention"] is None or summary["last_retention"] > 0.95
