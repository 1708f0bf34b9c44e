"""`blc export`: BDF CSV, BDF Parquet and the batteryarchive.org pair, each ingested back as a new cell with
identical cycle statistics (the round trip)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import sqlalchemy as sa

from blc import cli, pipeline

DATA = Path(__file__).resolve().parents[1] / "data"
MACCOR = DATA / "maccor" / "xTESLADIAG_000019_CH70.070"  # stuck counter: our cycles must travel

pytestmark = pytest.mark.integration

_COMPARED = (
    "cycle_index, charge_capacity_ah, discharge_capacity_ah, charge_energy_wh, discharge_energy_wh,"
    " voltage_max_v, voltage_min_v, test_time_start_second, n_points, reported_charge_capacity_ah,"
    " reported_discharge_capacity_ah"
)


def _stats(engine, cell: str) -> list[tuple]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(f"select {_COMPARED} from blc.cycle_stats where cell_id = :c order by cycle_index"),
            {"c": cell},
        ).all()
    return [tuple(float("nan") if value is None else value for value in row) for row in rows]


@pytest.mark.parametrize(
    ("args", "data_file", "fmt"),
    [
        pytest.param(["--format", "bdf"], "tesla.bdf.csv", "bdf_csv", id="bdf-csv"),
        pytest.param(["--format", "bdf", "--parquet"], "tesla.bdf.parquet", "bdf_parquet", id="bdf-parquet"),
        pytest.param(
            ["--format", "batteryarchive"], "tesla_timeseries.csv", "batteryarchive_timeseries", id="ba"
        ),
    ],
)
def test_export_then_ingest_gives_identical_cycle_statistics(  # type: ignore[no-untyped-def]
    engine, blc_env: Path, tmp_path: Path, capsys, args: list[str], data_file: str, fmt: str
) -> None:
    pipeline.ingest(MACCOR.as_uri(), cell_id="tesla")
    original = _stats(engine, "tesla")
    assert len(original) == 32

    assert cli.main(["export", "tesla", "--to", str(tmp_path / "out"), *args]) == 0
    written = capsys.readouterr().out.split()
    exported = tmp_path / "out" / data_file
    assert str(exported) in written

    outcome, _ = pipeline.ingest(exported.as_uri(), cell_id="tesla_again")

    assert outcome.status == "loaded"
    assert outcome.format == fmt
    assert outcome.rows == 11669
    again = _stats(engine, "tesla_again")
    assert len(again) == len(original)
    for got, want in zip(again, original, strict=True):
        assert got == pytest.approx(want, rel=1e-9, nan_ok=True)
    if fmt == "batteryarchive_timeseries":  # its _cycle_data.csv came along as the vendor summary
        table = pipeline.cycle_table(engine, "tesla_again")
        assert table["vendor_discharge_capacity_ah"].to_numpy() == pytest.approx(
            table["discharge_capacity_ah"].to_numpy(), rel=1e-9
        )


def test_bdf_export_carries_the_cell_metadata(engine, blc_env: Path, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    source = blc_env / "tesla.070"
    source.write_bytes(MACCOR.read_bytes())
    (blc_env / "tesla.070.meta.yaml").write_text("cell_id: T-19\nnominal_capacity_ah: 3.0\nchemistry: NCA\n")
    pipeline.ingest(source.as_uri())

    assert cli.main(["export", "T-19", "--to", str(tmp_path)]) == 0
    metadata = json.loads((tmp_path / "T-19.metadata.json").read_text())

    assert metadata["cell_id"] == "T-19"
    assert metadata["nominal_capacity_ah"] == 3.0
    assert metadata["chemistry"] == "NCA"
    assert metadata["procedure"] == "xTESLADIAG_000019_CH70.000"


def test_export_of_unknown_cell_says_so(blc_env: Path, tmp_path: Path, capsys) -> None:  # type: ignore[no-untyped-def]
    assert cli.main(["export", "nope", "--to", str(tmp_path)]) != 0
    assert "no cell 'nope'" in capsys.readouterr().err


def _cycle_scope_by_loop(values: list[float], cycles: list[int]) -> list[float]:
    """Row by row: within a cycle, a restarted segment continues from the earlier segments' maxima."""
    out, cycle, last, seg_max, offset = [], None, float("nan"), float("nan"), 0.0
    for value, c in zip(values, cycles, strict=True):
        if value != value:  # NaN
            out.append(value)
            continue
        if c != cycle:
            cycle, offset, seg_max = c, 0.0, value
        elif value < last - max(abs(last) * 0.01, 1e-12):
            offset, seg_max = offset + seg_max, value
        else:
            seg_max = max(seg_max, value)
        last = value
        out.append(value + offset)
    return out


@pytest.mark.parametrize("seed", [1, 2, 3])
def test_step_counters_become_per_cycle_counters_whatever_the_frame_cuts(seed: int) -> None:
    from blc.export import CycleScope

    rng = np.random.default_rng(seed)
    values, cycles = [], []
    for cycle in range(1, 6):
        for _step in range(rng.integers(1, 4)):
            n = int(rng.integers(1, 8))
            values += list(np.cumsum(rng.uniform(0, 1, n)))
            cycles += [cycle] * n
            if rng.uniform() < 0.3:  # rows where the counter is not written
                values += [float("nan")] * 2
                cycles += [cycle] * 2
    expected = _cycle_scope_by_loop(values, cycles)
    cuts = sorted(set(rng.integers(1, len(values), 6).tolist()))
    scope, got = CycleScope(), []
    for lo, hi in zip([0, *cuts], [*cuts, len(values)], strict=True):
        got += scope.convert(np.array(values[lo:hi]), np.array(cycles[lo:hi], dtype=float)).tolist()

    np.testing.assert_allclose(got, expected, rtol=0, atol=1e-12)
