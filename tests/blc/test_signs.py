"""The current's sign checked against the voltage, the counters and step labels (processors.signs, blc.signs),
and the ingest that flips a file whose positive current discharges, or refuses one whose evidence is mixed.

The generated BDF CSVs describe a cell whose truth is known by construction: each cycle charges at 1.0 A for
exactly 3600 s (1.0 Ah) with the voltage rising 3.0 → 4.1 V, rests, then discharges at 0.9 A for exactly
3600 s (0.9 Ah) with the voltage falling 4.0 → 3.0 V: coulombic efficiency 0.9 / 1.0 = 0.9. The cycle
counters count that truth; the file's current column may carry the opposite sign. Each change of current
happens at one instant (two rows with the same test time), so the trapezoid adds nothing at the edges.
"""

from __future__ import annotations

import shutil
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from blc.signs import CurrentSignContradiction, checked_signs
from connectors import registry
from processors.signs import SignAction, corrected, evidence, judge

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = DATA / "arbin" / "arbin_example.csv"

CHARGE_A, DISCHARGE_A, STEP_S, SAMPLE_S = 1.0, 0.9, 3600.0, 60.0
HEADER = (
    "Test Time / s,Voltage / V,Current / A,Cycle Count / 1,Step Count / 1,Step Type,"
    "Cycle Charging Capacity / Ah,Cycle Discharging Capacity / Ah"
)


def cell_rows(inverted: Sequence[bool], *, counters_follow_file: bool = False) -> pd.DataFrame:
    """One cycle per entry of `inverted`: the rows the file holds (its current negated where inverted). The
    counters count the true charge, or, with `counters_follow_file`, follow the file's current instead."""
    rows: list[tuple[float, float, float, int, int, str, float, float]] = []
    time, step = 0.0, 0
    samples = int(STEP_S / SAMPLE_S) + 1
    for cycle, flip in enumerate(inverted, start=1):
        sign = -1.0 if flip else 1.0
        swap = counters_follow_file and flip
        # (time, voltage, true current, step, label, charged Ah, discharged Ah) of this cycle
        truth: list[tuple[float, float, float, int, str, float, float]] = [
            (time, 3.0, 0.0, step + 1, "rest", 0.0, 0.0),
            (time + 300.0, 3.0, 0.0, step + 1, "rest", 0.0, 0.0),
        ]
        time += 300.0
        for k in range(samples):
            elapsed = k * SAMPLE_S
            truth.append(
                (
                    time + elapsed,
                    3.0 + 1.1 * elapsed / STEP_S,
                    CHARGE_A,
                    step + 2,
                    "charge",
                    CHARGE_A * elapsed / 3600,
                    0.0,
                )
            )
        time += STEP_S
        charged = CHARGE_A * STEP_S / 3600
        truth += [
            (time, 4.05, 0.0, step + 3, "rest", charged, 0.0),
            (time + 300.0, 4.0, 0.0, step + 3, "rest", charged, 0.0),
        ]
        time += 300.0
        for k in range(samples):
            elapsed = k * SAMPLE_S
            truth.append(
                (
                    time + elapsed,
                    4.0 - 1.0 * elapsed / STEP_S,
                    -DISCHARGE_A,
                    step + 4,
                    "discharge",
                    charged,
                    DISCHARGE_A * elapsed / 3600,
                )
            )
        time += STEP_S
        step += 4
        for t, volt, current, step_count, label, up, down in truth:
            if swap:
                up, down = down, up
            rows.append((t, volt, sign * current, cycle, step_count, label, round(up, 9), round(down, 9)))
    rows.append((time, 3.05, 0.0, len(inverted), step + 1, "rest", rows[-1][6], rows[-1][7]))
    return pd.DataFrame(
        rows,
        columns=[
            "test_time_second",
            "voltage_volt",
            "current_ampere",
            "cycle_count",
            "step_count",
            "step_type",
            "cycle_charging_capacity_ah",
            "cycle_discharging_capacity_ah",
        ],
    )


def write_bdf(path: Path, frame: pd.DataFrame) -> Path:
    lines = [HEADER]
    for row in frame.itertuples(index=False):
        lines.append(",".join(f"{value:g}" if isinstance(value, float) else str(value) for value in row))
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_inverted_current_with_truthful_counters_is_flipped() -> None:
    frame = cell_rows([True, True, True])

    found = evidence(frame)
    verdict = judge(found)

    assert verdict.action is SignAction.FLIP_CURRENT
    # 3 charges of 1.0 Ah and 3 discharges of 0.9 Ah, all against the file's sign
    assert (found.voltage.contradict_segments, found.voltage.agree_segments) == (6, 0)
    assert found.voltage.contradict_ah == pytest.approx(3 * (CHARGE_A + DISCHARGE_A))
    assert (found.counters.contradict_segments, found.counters.agree_segments) == (6, 0)
    assert "voltage slope at steady current: 6 of 6 segments contradict" in verdict.reason
    fixed = corrected(frame, verdict)
    assert fixed["current_ampere"].tolist() == (-frame["current_ampere"]).tolist()
    assert fixed["cycle_charging_capacity_ah"].tolist() == frame["cycle_charging_capacity_ah"].tolist()


def test_counters_that_follow_the_inverted_current_are_swapped_with_it() -> None:
    frame = cell_rows([True, True, True], counters_follow_file=True)

    verdict = judge(evidence(frame))

    assert verdict.action is SignAction.FLIP_CURRENT_AND_SWAP_COUNTERS
    fixed = corrected(frame, verdict)
    truth = cell_rows([False, False, False])
    assert fixed["current_ampere"].tolist() == truth["current_ampere"].tolist()
    assert fixed["cycle_charging_capacity_ah"].tolist() == truth["cycle_charging_capacity_ah"].tolist()
    assert fixed["cycle_discharging_capacity_ah"].tolist() == truth["cycle_discharging_capacity_ah"].tolist()
    assert list(fixed.columns) == list(frame.columns)


def test_counters_swapped_under_a_right_current_are_swapped_back() -> None:
    truth = cell_rows([False, False])
    swapped = truth.rename(
        columns={
            "cycle_charging_capacity_ah": "cycle_discharging_capacity_ah",
            "cycle_discharging_capacity_ah": "cycle_charging_capacity_ah",
        }
    )

    verdict = judge(evidence(swapped))

    assert verdict.action is SignAction.SWAP_COUNTERS
    fixed = corrected(swapped, verdict)
    assert fixed["cycle_charging_capacity_ah"].tolist() == truth["cycle_charging_capacity_ah"].tolist()
    assert fixed["current_ampere"].tolist() == truth["current_ampere"].tolist()


def test_a_right_file_is_kept() -> None:
    verdict = judge(evidence(cell_rows([False, False, False])))

    assert verdict.action is SignAction.KEEP
    assert "0 of 6 segments contradict" in verdict.reason


def test_half_inverted_cycles_are_mixed_and_refused() -> None:
    found = evidence(cell_rows([True, True, False, False]))
    verdict = judge(found)

    assert verdict.action is SignAction.REFUSE
    # Cycles 1-2 contradict (charge 1.0 Ah, discharge 0.9 Ah, charge 1.0 Ah); cycle 2's discharge and cycle 3's
    # charge both run at positive file current and make one segment (voltage -1.0 V then +1.1 V: agrees,
    # 1.9 Ah); then 0.9 + 1.0 + 0.9 Ah agree. 2.9 Ah of 7.6 Ah contradict.
    assert (found.voltage.contradict_segments, found.voltage.agree_segments) == (3, 4)
    assert found.voltage.contradicting == pytest.approx(2.9 / 7.6)


def test_step_labels_count_as_evidence() -> None:
    frame = cell_rows([True, True])
    labels = frame["step_type"].tolist()

    with_labels = evidence(frame.drop(columns=["cycle_charging_capacity_ah"]), labels=labels)
    assert (with_labels.labels.contradict_segments, with_labels.labels.agree_segments) == (4, 0)
    assert judge(with_labels).action is SignAction.FLIP_CURRENT

    # Labels that follow the file's (inverted) current while the counters follow the voltage: mixed.
    lying = ["discharge" if x == "charge" else "charge" if x == "discharge" else x for x in labels]
    assert judge(evidence(frame, labels=lying)).action is SignAction.REFUSE


def test_counters_against_a_voltage_that_says_nothing_are_refused() -> None:
    frame = cell_rows([False, False]).assign(voltage_volt=3.3)  # flat: no voltage evidence
    swapped = frame.rename(
        columns={
            "cycle_charging_capacity_ah": "cycle_discharging_capacity_ah",
            "cycle_discharging_capacity_ah": "cycle_charging_capacity_ah",
        }
    )

    assert judge(evidence(frame)).action is SignAction.KEEP
    verdict = judge(evidence(swapped))
    assert verdict.action is SignAction.REFUSE
    assert "voltage moves too little" in verdict.reason


def test_a_smaller_current_after_a_larger_one_is_no_evidence() -> None:
    # 6C to 3.6 V, then 1C while the overpotential relaxes and the voltage falls (a real fast-charge
    # protocol does this): the 1C part says nothing, the 6C part says charge.
    t = np.arange(0.0, 400.0, 10.0)
    six_c = t < 200
    frame = pd.DataFrame(
        {
            "test_time_second": t,
            "current_ampere": np.where(six_c, 6.6, 1.1),
            "voltage_volt": np.where(six_c, 3.3 + 0.3 * t / 200, 3.47 - 0.05 * (t - 200) / 200),
        }
    )

    found = evidence(frame)

    assert (found.voltage.agree_segments, found.voltage.contradict_segments) == (1, 0)
    assert found.voltage.samples == 20  # the 6C samples alone


@pytest.mark.parametrize(
    "relative",
    [
        "arbin/arbin_example.csv",
        "arbin/2017-05-09_test-TC-contact_CH33.csv",
        "maccor/xTESLADIAG_000019_CH70.070",
        "maccor/PreDiag_000412_00008Fshort.022",
        "neware/nw_regular_export_ife_example.csv",
        "biologic/gcpl_5cycles_C09_excerpt.mpt",
        "pec/pec.csv",
    ],
)
def test_real_files_are_untouched(relative: str) -> None:
    stream = registry.stream(DATA / relative)
    before = stream.read_all().frame

    checked, verdict = checked_signs(stream, Path(relative).name)

    assert verdict.action is SignAction.KEEP, verdict.reason
    assert checked is stream and stream.warnings == []
    pd.testing.assert_frame_equal(checked.read_all().frame, before)


def test_a_flipped_stream_flips_every_chunk_and_records_why(tmp_path: Path) -> None:
    frame = cell_rows([True, True, True])
    path = write_bdf(tmp_path / "inverted.bdf.csv", frame)
    stream = registry.stream(path, chunk_rows=50)  # several chunks

    checked, verdict = checked_signs(stream, path.name)

    assert verdict.action is SignAction.FLIP_CURRENT
    assert checked.warnings == [verdict.reason]
    read = checked.read_all().frame
    assert read["current_ampere"].tolist() == (-frame["current_ampere"]).tolist()
    only_current = pd.concat(list(checked.chunks(["current_ampere"])), ignore_index=True)
    assert only_current.columns.tolist() == ["current_ampere"]
    assert only_current["current_ampere"].tolist() == read["current_ampere"].tolist()


def test_a_swapped_stream_swaps_a_counter_asked_for_alone(tmp_path: Path) -> None:
    path = write_bdf(tmp_path / "both.bdf.csv", cell_rows([True, True, True], counters_follow_file=True))
    truth = cell_rows([False, False, False])

    checked, verdict = checked_signs(registry.stream(path), path.name)

    assert verdict.action is SignAction.FLIP_CURRENT_AND_SWAP_COUNTERS
    asked = pd.concat(
        list(checked.chunks(["current_ampere", "cycle_charging_capacity_ah"])), ignore_index=True
    )
    assert asked.columns.tolist() == ["current_ampere", "cycle_charging_capacity_ah"]
    assert asked["current_ampere"].tolist() == truth["current_ampere"].tolist()
    # (the file holds 6 significant digits)
    assert asked["cycle_charging_capacity_ah"].tolist() == pytest.approx(
        truth["cycle_charging_capacity_ah"].tolist(), rel=1e-5
    )


def test_a_mixed_stream_raises_naming_the_file_and_evidence(tmp_path: Path) -> None:
    path = write_bdf(tmp_path / "mixed.bdf.csv", cell_rows([True, True, False, False]))

    with pytest.raises(CurrentSignContradiction, match=r"^mixed.bdf.csv: the current's sign is inconsistent"):
        checked_signs(registry.stream(path), path.name)


@pytest.mark.integration
def test_ingest_flips_an_inverted_bdf_file_and_its_ce_is_the_counters(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    from blc import pipeline

    path = write_bdf(blc_env / "inverted.bdf.csv", cell_rows([True, True, True]))

    outcome, _ = pipeline.ingest(path.as_uri())

    assert outcome.status == "loaded", outcome.reason
    with engine.connect() as conn:
        warnings = conn.execute(sa.text("select warnings from blc.source_file")).scalar_one()
        stats = pd.read_sql(sa.text("select * from blc.cycle_stats order by cycle_index"), conn)
        current = conn.execute(sa.text("select sum(current_ampere) from blc.timeseries")).scalar_one()
    assert len(warnings) == 1
    assert "current sign flipped" in warnings[0]
    assert "voltage slope at steady current: 6 of 6 segments contradict" in warnings[0]
    assert "counters cycle_charging_capacity_ah/cycle_discharging_capacity_ah" in warnings[0]
    # Hand: 1.0 A × 3600 s in, 0.9 A × 3600 s out, every cycle; the file's own counters say the same.
    assert stats["charge_capacity_ah"].tolist() == pytest.approx([1.0, 1.0, 1.0])
    assert stats["discharge_capacity_ah"].tolist() == pytest.approx([0.9, 0.9, 0.9])
    assert stats["coulombic_efficiency"].tolist() == pytest.approx([0.9, 0.9, 0.9])
    assert stats["coulombic_efficiency"].tolist() == pytest.approx(
        (stats["reported_discharge_capacity_ah"] / stats["reported_charge_capacity_ah"]).tolist()
    )
    # 61 samples at +1.0 A and 61 at -0.9 A a cycle, as stored (charge positive)
    assert current == pytest.approx(3 * 61 * (1.0 - 0.9))


@pytest.mark.integration
def test_ingest_quarantines_a_file_with_mixed_evidence(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    from blc import pipeline

    path = write_bdf(blc_env / "mixed.bdf.csv", cell_rows([True, True, False, False]))

    outcome, _ = pipeline.ingest(path.as_uri())

    assert outcome.status == "quarantined"
    assert outcome.reason is not None
    assert outcome.reason.startswith("mixed.bdf.csv: the current's sign is inconsistent with the voltage")
    # Decided on the first chunk, once 6 segments had closed (the 7th might go on in rows not read yet):
    # 2.9 Ah contradict, 1.9 + 0.9 + 1.0 Ah agree (test_half_inverted_cycles_are_mixed_and_refused).
    assert "3 of 6 segments contradict the current's sign, 3 agree (43% of 6.7 Ah" in outcome.reason
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from blc.timeseries")).scalar_one() == 0
        assert conn.execute(sa.text("select status from blc.source_file")).scalar_one() == "quarantined"


@pytest.mark.integration
def test_ingest_leaves_a_right_real_file_alone(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    from blc import pipeline

    path = blc_env / EXAMPLE.name
    shutil.copy(EXAMPLE, path)
    # The file's own currents, summed as written (Arbin: positive = charge).
    written = pd.read_csv(EXAMPLE)["Current"].sum()

    outcome, _ = pipeline.ingest(path.as_uri())

    assert outcome.status == "loaded"
    with engine.connect() as conn:
        assert conn.execute(sa.text("select warnings from blc.source_file")).scalar_one() == []
        stored = conn.execute(sa.text("select sum(current_ampere) from blc.timeseries")).scalar_one()
    assert stored == pytest.approx(written)
