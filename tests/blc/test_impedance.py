"""Impedance (EIS) records never become cycle samples: they are kept apart in blc.impedance_spectrum.

The fixture (tests/data/biologic/modulo_bat_eis_pulses_C02.mpt) and its variants come from the generator
beside it, whose protocol gives every expected number: 30 min rest, then four times [a 71-point galvano-EIS
sweep, 1 min rest, a 4 h pulse at -2.5 mA, 30 min rest], a last sweep and 5 min rest; `half cycle` and
`cycle number` 0 throughout. Before impedance rows were set apart, the sweeps' alternating `<I>` made
dozens of µAh "cycles" out of such a file.
"""

from __future__ import annotations

import cmath
import csv
import importlib.util
import io
import itertools
import json
import logging
import math
import shutil
from pathlib import Path
from types import ModuleType

import pytest
import sqlalchemy as sa

from blc import cli, cli_tables, pipeline

DATA = Path(__file__).resolve().parents[1] / "data" / "biologic"
FIXTURE = DATA / "modulo_bat_eis_pulses_C02.mpt"
CELL = FIXTURE.stem

pytestmark = pytest.mark.integration


def _generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location("make_eis_fixture", DATA / "make_eis_fixture.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


GEN = _generator()
ROWS = GEN.build()
SWEEPS = len(GEN.PULSE_CURRENT_MA) + 1  # one before each pulse, one after the last
POINTS_PER_SWEEP = 71  # 100 kHz down to 10 mHz: 7 decades at 10 points per decade, both ends included


def _randles(frequency_hz: float, sweep: int) -> complex:
    """Z = R_s + R_ct / (1 + jωR_ct·C_dl), R_ct = 10 Ω + 2.5 Ω per sweep, R_s = 2 Ω, C_dl = 50 µF."""
    r_ct = 10.0 + 2.5 * sweep
    return 2.0 + r_ct / (1 + 1j * 2 * math.pi * frequency_hz * r_ct * 50e-6)


def _rows(engine, sql: str, **params):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).all()


def _scalar(engine, sql: str, **params):  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        return conn.execute(sa.text(sql), params).scalar()


def test_fixture_is_what_the_generator_writes(tmp_path: Path) -> None:
    again = tmp_path / FIXTURE.name
    GEN.write(again, ROWS)

    assert again.read_bytes() == FIXTURE.read_bytes()
    assert sum(row["kind"] == "eis" for row in ROWS) == SWEEPS * POINTS_PER_SWEEP == 355
    assert len(ROWS) == 500


def test_impedance_rows_are_kept_apart_and_the_pulses_make_the_cycles(
    engine, blc_env: Path, caplog: pytest.LogCaptureFixture
) -> None:  # type: ignore[no-untyped-def]
    time_domain = [row for row in ROWS if row["kind"] != "eis"]
    eis = [row for row in ROWS if row["kind"] == "eis"]

    with caplog.at_level(logging.INFO, logger="blc.load"):
        outcome, processed = pipeline.ingest(FIXTURE.as_uri())

    assert outcome.status == "loaded"
    # The time series holds exactly the time-domain rows, and the ledger counts those.
    assert outcome.rows == len(time_domain) == 145
    assert _scalar(engine, "select count(*) from blc.timeseries") == len(time_domain)
    assert _scalar(engine, "select rows from blc.source_file") == len(time_domain)
    stored_times = [r[0] for r in _rows(engine, "select test_time_second from blc.timeseries order by 1")]
    assert stored_times == pytest.approx([row["time/s"] for row in time_domain], abs=1e-9)
    assert f"{len(eis)} impedance points in {SWEEPS} sweeps stored in blc.impedance_spectrum" in caplog.text

    # One cycle: the instrument's counter stays 0 and the pulses all discharge. No cycle of AC rows, no
    # charge at all (the sweeps' alternating current made µAh of it); the discharge is the four pulses',
    # 4 × 2.5 mA × 4 h = 40 mAh.
    assert processed[0].cycles == 1
    stats = _rows(engine, "select charge_capacity_ah, discharge_capacity_ah, n_points from blc.cycle_stats")
    assert len(stats) == 1
    charge, discharge, n_points = stats[0]
    assert charge == 0.0
    assert discharge == pytest.approx(4 * 2.5e-3 * 4.0, rel=1e-6)
    assert n_points == len(time_domain)

    spectra = _rows(
        engine,
        "select sweep, point, cycle_index, test_time_second, frequency_hertz, real_impedance_ohm,"
        " imaginary_impedance_ohm, absolute_impedance_ohm, phase_degree, current_ampere, voltage_volt"
        " from blc.impedance_spectrum where cell_id = :cell order by sweep, point",
        cell=CELL,
    )
    assert len(spectra) == len(eis)
    assert [(s.sweep, s.point) for s in spectra] == [
        (sweep, point) for sweep in range(1, SWEEPS + 1) for point in range(1, POINTS_PER_SWEEP + 1)
    ]
    assert {s.cycle_index for s in spectra} == {1}
    assert [s.test_time_second for s in spectra] == pytest.approx([row["time/s"] for row in eis], abs=1e-9)
    for s in spectra:
        frequency = 10.0 ** (5 - (s.point - 1) / 10)
        z = _randles(frequency, s.sweep - 1)
        assert s.frequency_hertz == pytest.approx(frequency, rel=1e-7)
        assert s.real_impedance_ohm == pytest.approx(z.real, rel=1e-6)
        assert s.imaginary_impedance_ohm == pytest.approx(z.imag, rel=1e-6)  # Im(Z), negative
        assert s.absolute_impedance_ohm == pytest.approx(abs(z), rel=1e-6)
        assert s.phase_degree == pytest.approx(math.degrees(cmath.phase(z)), rel=1e-6)
    # By hand, first sweep: at 100 kHz ωR_ctC_dl = 2π·1e5·10·50e-6 = 314.159, so Re = 2 + 10/(1 + 314.159²)
    # = 2.000101 Ω and Im = -10·314.159/(1 + 314.159²) = -0.031831 Ω; at 10 mHz it is 3.1416e-5: Re = 12 Ω,
    # Im = -10 × 3.1416e-5 = -3.1416e-4 Ω.
    first, last = spectra[0], spectra[POINTS_PER_SWEEP - 1]
    assert (first.real_impedance_ohm, first.imaginary_impedance_ohm) == pytest.approx(
        (2.000101, -0.031831), abs=1e-6
    )
    assert (last.real_impedance_ohm, last.imaginary_impedance_ohm) == pytest.approx(
        (12.0, -3.1416e-4), rel=1e-4
    )
    # The DC level of each sweep: the sweep's own mean current (±0.1 mA) and the rest voltage before it.
    assert {round(s.current_ampere, 7) for s in spectra} == {1e-4, -1e-4}
    assert [s.voltage_volt for s in spectra[::POINTS_PER_SWEEP]] == pytest.approx(
        [4.15, 3.9625, 3.775, 3.5875, 3.40], abs=1e-6
    )


@pytest.mark.parametrize(
    ("counters", "rule"),
    [
        # No cycle counter: the cycles come from a first pass over the current, which must not see the
        # sweeps either.
        pytest.param(False, "charge_discharge_transitions", id="no-counter"),
        pytest.param(True, "instrument_counter", id="counter-advances-at-charge"),
    ],
)
def test_sweeps_take_the_cycle_they_were_measured_after(
    engine, blc_env: Path, counters: bool, rule: str
) -> None:  # type: ignore[no-untyped-def]
    pulses = (2.5, -2.5, 2.5, -2.5)  # charge, discharge, charge, discharge
    rows = GEN.build(pulses, counters=counters, count_at_charge=True)
    path = blc_env / "alternating_C03.mpt"
    GEN.write(path, rows)
    # A cycle is a charge and a discharge: the second one starts at the third pulse. Sweep k comes after
    # pulse k - 1: sweeps 1-3 (before any pulse, after the first charge, after the first discharge) belong
    # to cycle 1, sweeps 4 and 5 to cycle 2.
    expected_cycles = 1 + sum(1 for a, b in itertools.pairwise(pulses) if a < 0 < b)

    outcome, processed = pipeline.ingest(path.as_uri())

    assert outcome.status == "loaded"
    assert outcome.cycle_rule == rule
    assert outcome.rows == sum(row["kind"] != "eis" for row in rows)
    assert processed[0].cycles == expected_cycles == 2
    sweeps = _rows(
        engine,
        "select sweep, min(cycle_index), max(cycle_index) from blc.impedance_spectrum group by 1 order by 1",
    )
    assert [(s[1], s[2]) for s in sweeps] == [(1, 1), (1, 1), (1, 1), (2, 2), (2, 2)]
    stats = _rows(engine, "select charge_capacity_ah, discharge_capacity_ah from blc.cycle_stats order by 1")
    # Each cycle charges and discharges one pulse: 2.5 mA × 4 h = 10 mAh, nothing of µAh size.
    for charge, discharge in stats:
        assert charge == pytest.approx(10e-3, rel=1e-6)
        assert discharge == pytest.approx(10e-3, rel=1e-6)


def test_a_superseded_file_takes_its_spectra_with_it(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = blc_env / FIXTURE.name
    shutil.copy(FIXTURE, path)
    first, _ = pipeline.ingest(path.as_uri())
    # New content at the same path: two pulses, so three sweeps.
    rows = GEN.build((-2.5, -2.5))
    GEN.write(path, rows)

    second, _ = pipeline.ingest(path.as_uri())

    assert second.status == "loaded" and second.file_id != first.file_id
    assert _scalar(engine, "select status from blc.source_file where file_id = :f", f=first.file_id) == (
        "superseded"
    )
    assert _rows(engine, "select distinct file_id, cell_id from blc.impedance_spectrum") == [
        (second.file_id, CELL)
    ]
    assert _scalar(engine, "select count(*) from blc.impedance_spectrum") == 3 * POINTS_PER_SWEEP
    assert _scalar(engine, "select count(*) from blc.timeseries") == sum(row["kind"] != "eis" for row in rows)

    # The file replaced by one without sweeps: the cell keeps none.
    shutil.copy(DATA / "gcpl_5cycles_C09_excerpt.mpt", path)
    third, _ = pipeline.ingest(path.as_uri(), cell_id=CELL)
    assert third.status == "loaded"
    assert _scalar(engine, "select count(*) from blc.impedance_spectrum") == 0


def test_a_file_grown_mid_sweep_stores_each_sweep_once(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = blc_env / FIXTURE.name
    lines = FIXTURE.read_bytes().splitlines(keepends=True)
    header_lines = int(lines[1].split(b":")[1])
    cut = next(i for i, row in enumerate(ROWS) if row["sweep"] == 2) + 30  # inside the third sweep
    path.write_bytes(b"".join(lines[: header_lines + cut]))
    first, _ = pipeline.ingest(path.as_uri())
    path.write_bytes(FIXTURE.read_bytes())  # the cycler wrote the rest

    grown, _ = pipeline.ingest(path.as_uri())

    assert grown.file_id == first.file_id  # an append, not a new version
    time_domain = sum(row["kind"] != "eis" for row in ROWS)
    assert first.rows + grown.rows == time_domain
    assert _scalar(engine, "select rows from blc.source_file") == time_domain
    assert _scalar(engine, "select count(*) from blc.timeseries") == time_domain
    counts = _rows(engine, "select sweep, count(*) from blc.impedance_spectrum group by 1 order by 1")
    assert counts == [(sweep, POINTS_PER_SWEEP) for sweep in range(1, SWEEPS + 1)]


def test_a_file_of_sweeps_only_loads_its_spectra(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    rows = [row for row in ROWS if row["sweep"] == 0]  # the first sweep alone, as a PEIS file holds it
    path = blc_env / "sweep_only_C04.mpt"
    GEN.write(path, rows)

    outcome, processed = pipeline.ingest(path.as_uri())

    assert outcome.status == "loaded", outcome.reason
    assert outcome.rows == 0
    assert processed[0].cycles == 0
    assert _scalar(engine, "select count(*) from blc.impedance_spectrum") == POINTS_PER_SWEEP
    assert _scalar(engine, "select count(cycle_index) from blc.impedance_spectrum") == 0  # no cycle to be in


def test_validation_names_the_file_line_past_impedance_rows(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    rows = [dict(row) for row in ROWS]
    bad = next(i for i, row in enumerate(rows) if row["kind"] == "pulse" and i > 200)
    rows[bad]["<Ewe>/V"] = 42.5  # no cell: the suite allows -10 to 10 V
    path = blc_env / "bad_voltage_C05.mpt"
    GEN.write(path, rows)
    header_lines = int(path.read_text(encoding="cp1252").splitlines()[1].split(":")[1])

    outcome, _ = pipeline.ingest(path.as_uri())

    assert outcome.status == "quarantined"
    assert f"first at line {header_lines + 1 + bad} " in (outcome.reason or "")


def test_bdf_rows_with_a_frequency_are_impedance_points(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    # BDF names the impedance terms itself; two points at 1 kHz and 100 Hz between a rest and a discharge.
    path = blc_env / "eis_cell.bdf.csv"
    path.write_text(
        "Test Time / s,Voltage / V,Current / A,Frequency / Hz,Real Impedance / ohm,Imaginary Impedance / ohm\n"
        "0,3.70,0,,,\n"
        "10,3.70,0.001,1000,0.05,-0.01\n"
        "20,3.70,-0.001,100,0.06,-0.02\n"
        "30,3.60,-1.0,,,\n"
        "40,3.50,-1.0,,,\n"
    )

    outcome, _ = pipeline.ingest(path.as_uri())

    assert (outcome.status, outcome.rows) == ("loaded", 3)
    assert [r[0] for r in _rows(engine, "select test_time_second from blc.timeseries order by 1")] == [
        0,
        30,
        40,
    ]
    assert _rows(
        engine,
        "select sweep, point, test_time_second, frequency_hertz, real_impedance_ohm, imaginary_impedance_ohm,"
        " cycle_index from blc.impedance_spectrum order by point",
    ) == [(1, 1, 10.0, 1000.0, 0.05, -0.01, 1), (1, 2, 20.0, 100.0, 0.06, -0.02, 1)]


@pytest.mark.parametrize("fmt", ["csv", "json"])
def test_blc_impedance_prints_the_cells_spectra(
    blc_env: Path, capsys: pytest.CaptureFixture[str], fmt: str
) -> None:
    pipeline.ingest(FIXTURE.as_uri())
    capsys.readouterr()

    code = cli.main(["impedance", CELL, "--format", fmt])

    captured = capsys.readouterr()
    assert code == 0, captured.err
    out = captured.out
    records = list(csv.DictReader(io.StringIO(out))) if fmt == "csv" else json.loads(out)
    assert len(records) == SWEEPS * POINTS_PER_SWEEP
    assert {int(r["sweep"]) for r in records} == set(range(1, SWEEPS + 1))
    first = records[0]
    assert float(first["frequency_hertz"]) == pytest.approx(1e5)
    assert float(first["imaginary_impedance_ohm"]) == pytest.approx(_randles(1e5, 0).imag, rel=1e-6)
    assert int(first["cycle_index"]) == 1


def test_blc_impedance_table_and_unknown_cell(blc_env: Path, capsys: pytest.CaptureFixture[str]) -> None:
    pipeline.ingest(FIXTURE.as_uri())
    capsys.readouterr()

    assert cli.main(["impedance", CELL]) == 0
    header, *lines = capsys.readouterr().out.splitlines()
    assert header.split() == list(cli_tables.IMPEDANCE_TABLE.values())
    assert len(lines) == SWEEPS * POINTS_PER_SWEEP

    assert cli.main(["impedance", "no_such_cell"]) == 2
    assert "no cell 'no_such_cell'" in capsys.readouterr().err
