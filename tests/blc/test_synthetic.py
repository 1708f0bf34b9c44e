"""The benchmark's synthetic cycler data: reproducible, readable by our connector, and physically sensible."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest

from blc import synthetic
from connectors import registry
from processors.cycle_stats import compute_cycle_stats


def test_same_seed_same_bytes_other_seed_other_bytes(tmp_path: Path) -> None:
    first = synthetic.write_arbin_csv(tmp_path / "a.csv", 5000, seed=3)
    again = synthetic.write_arbin_csv(tmp_path / "b.csv", 5000, seed=3)
    other = synthetic.write_arbin_csv(tmp_path / "c.csv", 5000, seed=4)

    assert first.read_bytes() == again.read_bytes()
    assert first.read_bytes() != other.read_bytes()
    assert (tmp_path / "a_Metadata.csv").read_text().startswith(",test_id,device_id")


def test_arbin_file_is_recognised_and_read_with_exact_row_count(tmp_path: Path) -> None:
    path = synthetic.write_arbin_csv(tmp_path / "cell.csv", 12_345, seed=1)

    result = registry.stream(path, chunk_rows=5000).read_all()

    assert result.format == "arbin_csv"
    assert len(result.frame) == 12_345
    assert result.frame["record_index"].tolist()[:3] == [1, 2, 3]
    assert result.frame["test_time_second"].is_monotonic_increasing


def test_cycles_are_cc_cv_charge_then_cc_discharge_with_slow_fade() -> None:
    frame = synthetic.canonical_frame(60_000, seed=7)

    stats = compute_cycle_stats(frame)
    complete = stats[stats["complete"]]
    capacity = complete["discharge_capacity_ah"].to_numpy()

    assert len(complete) >= 50
    assert capacity[0] == pytest.approx(1.1, rel=0.05)
    assert np.all(np.diff(capacity) < 0.002)  # never gains more than noise
    assert capacity[-1] < capacity[0] * 0.99  # a visible fade within 60 cycles
    assert complete["coulombic_efficiency"].between(0.95, 1.05).all()
    assert complete["voltage_max_v"].max() == pytest.approx(synthetic.V_MAX, abs=0.01)
    first_cycle = frame[frame["cycle_index"] == 1]
    charging = first_cycle["current_ampere"] > 0
    # the CV phase: current falls from 1C towards C/20 while still charging
    assert first_cycle.loc[charging, "current_ampere"].min() < 0.1 * synthetic.NOMINAL_CAPACITY_AH


def test_the_demo_cell_carries_its_nominal_capacity(tmp_path: Path) -> None:
    from blc import demo
    from connectors import sidecars

    drops, scratch = tmp_path / "drops", tmp_path / "scratch"
    drops.mkdir()
    target = demo.write_synthetic_cell(drops, scratch)

    assert target is not None
    assert sidecars.metadata_beside(target)["nominal_capacity_ah"] == pytest.approx(1.1)  # the generator's 1C
