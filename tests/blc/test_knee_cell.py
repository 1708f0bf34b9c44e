"""A generated 300-cycle cell with a knee, end to end: the fade thresholds match the truth computed from the
file's own samples, and the knee is found where the model put it."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from blc import pipeline, synthetic

pytestmark = pytest.mark.integration

#: Slow √n + linear fade, then 0.25 % of capacity more per cycle from cycle 180.
MODEL = synthetic.CellModel(knee_cycle=180, knee_fade=0.0025)
CYCLES = 300


def _truth() -> tuple[int, int]:
    """cycles_to_80 and cycles_to_70 from the generated samples alone: each cycle's discharge capacity by
    np.trapezoid over its own discharge samples, the reference the median of cycles 1–3 (docs/design.md §6)."""
    samples = pd.concat(list(synthetic.iter_chunks(10**9, model=MODEL, cycles=CYCLES)), ignore_index=True)
    discharge = []
    for _, cycle in samples.groupby("cycle", sort=True):
        current = np.maximum(-cycle["i"].to_numpy(), 0.0)
        discharge.append(np.trapezoid(current, cycle["t"].to_numpy()) / 3600.0)
    retention = np.array(discharge) / np.median(discharge[:3])
    return int(np.argmax(retention < 0.8)) + 1, int(np.argmax(retention < 0.7)) + 1


def test_thresholds_within_one_cycle_of_the_samples_truth_and_knee_found(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = synthetic.write_arbin_csv(blc_env / "knee_cell.csv", 10**9, model=MODEL, cycles=CYCLES)
    truth_80, truth_70 = _truth()

    outcome, processed = pipeline.ingest(path.as_uri())
    with engine.connect() as conn:
        summary = conn.execute(sa.text("select * from blc.cell_summary")).mappings().one()

    assert outcome.status == "loaded" and processed[0].cycles == CYCLES
    assert 180 < truth_80 < truth_70 < CYCLES  # the knee brings both thresholds inside the test
    assert abs(summary["cycles_to_80"] - truth_80) <= 1
    assert abs(summary["cycles_to_70"] - truth_70) <= 1
    assert summary["projected_cycles_to_80"] is None  # reached: no projection
    assert abs(summary["knee_onset_cycle"] - 180) <= 10
    assert summary["fade_per_100_cycles"] > 0.2  # a fraction: ~25 % of the reference per 100 cycles
