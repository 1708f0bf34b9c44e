"""processors/classify.py on protocols whose cycle kinds are known by design (tests/processors/protocols.py):
a diagnostic protocol (formation, ageing, slow reference checks, HPPC, a rate test), a test stopped inside a
discharge, and capacities that cannot be true."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

from processors.classify import FEATURES, classify_cycles, rate_levels
from processors.cycle_stats import stats_of_frame
from tests.processors.protocols import CAPACITY_AH, Protocol


def _classify(protocol: Protocol, **kwargs: object) -> pd.DataFrame:
    _, stats = stats_of_frame(protocol.frame())
    classified = classify_cycles(stats[list(FEATURES)], **kwargs)  # type: ignore[arg-type]
    return stats.drop(columns=["complete", "flags"]).merge(classified, on="cycle_index")


def _diagnostic() -> tuple[Protocol, list[str]]:
    """2 formation cycles at C/10, then 1C ageing cycles with a C/20 capacity check after every 5th, one
    HPPC cycle and one 2C rate test in between: the classes the design gives, cycle by cycle."""
    protocol, expected = Protocol(dt_second=60.0), []
    for _ in range(2):
        protocol.full_cycle(0.2, 0.2)
        expected.append("formation")
    for block in range(3):
        for _ in range(5):
            protocol.full_cycle(1.0, 2.0)
            expected.append("ageing")
        protocol.full_cycle(0.1, 0.1)
        expected.append("reference")
        if block == 0:
            protocol.hppc_cycle()
            expected.append("hppc")
        if block == 1:
            protocol.full_cycle(1.0, 4.0)
            expected.append("rate")
    return protocol, expected


def test_diagnostic_protocol_cycles_get_the_class_of_their_design() -> None:
    protocol, expected = _diagnostic()

    classified = _classify(protocol)

    assert classified["cycle_class"].tolist() == expected
    assert classified["complete"].all()


def test_formation_from_metadata_overrides_the_rate_judgement() -> None:
    protocol = Protocol(dt_second=60.0)
    for _ in range(6):
        protocol.full_cycle(1.0, 2.0)

    classified = _classify(protocol, formation_cycles=2)

    assert classified["cycle_class"].tolist() == ["formation"] * 2 + ["ageing"] * 4


def test_a_discharge_stopped_before_its_cut_off_is_cut_short_even_when_the_file_ends_at_rest() -> None:
    # 6 ageing cycles, then one whose 1C discharge stops at 1714 s of the 3600 s it takes to reach 3.0 V,
    # after which the instrument logs rest (the file's last sample is at rest: the "came to rest" rule
    # alone would count the cycle).
    protocol = Protocol(dt_second=60.0)
    for _ in range(6):
        protocol.full_cycle(1.0, 2.0)
    protocol.new_cycle()
    protocol.step(0.0, 300)
    protocol.step(1.0, CAPACITY_AH / 1.0 * 3600)
    protocol.step(0.0, 300)
    protocol.step(-2.0, 1714)
    protocol.step(0.0, 300)

    classified = _classify(protocol)

    last = classified.iloc[-1]
    assert last["cycle_class"] == "partial" and not last["complete"]
    assert last["flags"] == "cut_short"
    assert last["discharge_capacity_ah"] == pytest.approx(2.0 * 1714 / 3600, rel=1e-3)
    assert classified["cycle_class"].iloc[:6].tolist() == ["ageing"] * 6


def test_a_cycle_the_instrument_stopped_is_not_complete() -> None:
    protocol = Protocol(dt_second=60.0)
    for _ in range(3):
        protocol.full_cycle(1.0, 2.0)
    protocol.new_cycle()
    protocol.step(1.0, CAPACITY_AH / 1.0 * 3600)
    protocol.step(-2.0, 1800)
    protocol.step(0.0, 120, stop_at_end=True)  # the stop record: the instrument says it stopped the test

    classified = _classify(protocol)

    assert classified["flags"].iloc[-1] == "stopped"
    assert classified["cycle_class"].iloc[-1] == "partial"
    assert classified["complete"].tolist() == [True, True, True, False]


def test_nothing_is_integrated_across_a_hole_in_the_samples() -> None:
    # a 1C discharge logged every 60 s, with no sample for 4 hours in its middle: what flowed then is
    # unknown, so the cycle holds only what was logged and is flagged
    protocol = Protocol(dt_second=60.0)
    protocol.full_cycle(1.0, 2.0)
    protocol.new_cycle()
    protocol.step(1.0, 7200)
    protocol.step(-0.2, 1800)
    protocol.hole(4 * 3600)
    protocol.step(-0.2, 1800)
    protocol.step(0.0, 300)

    _, stats = stats_of_frame(protocol.frame())

    second = stats.iloc[1]
    # by hand, in A·s: the step change from +1 A to −0.2 A (60 s, the trapezoid's discharge side 0.1 A on
    # average) 6, each block of 30 samples 29 intervals × 60 s × 0.2 A = 348, the hole (14,460 s between
    # two samples) nothing, the step to rest 6
    assert second["discharge_capacity_ah"] == pytest.approx((6 + 348 + 348 + 6) / 3600, rel=1e-9)
    assert second["gap_second"] == pytest.approx(4 * 3600 + 60, rel=1e-9)  # the hole and its own sample step
    assert second["flags"] == "gap" and not second["complete"]
    assert stats.iloc[0]["flags"] is None and stats.iloc[0]["complete"]


def test_an_implausible_capacity_is_flagged_and_never_a_reference() -> None:
    protocol = Protocol(dt_second=60.0)
    for _ in range(4):
        protocol.full_cycle(1.0, 2.0)
    protocol.full_cycle(1.0, 2.0, capacity_ah=10 * CAPACITY_AH)  # 20 Ah from a 2 Ah cell
    protocol.full_cycle(1.0, 2.0)

    classified = _classify(protocol, nominal_capacity_ah=CAPACITY_AH)

    assert classified["flags"].tolist() == [None] * 4 + ["capacity_implausible", None]
    assert classified["complete"].tolist() == [True] * 4 + [False, True]


def test_rate_levels_group_rates_within_the_tolerance() -> None:
    rates = np.array([2.0, 2.1, 0.1, np.nan, 4.0, 1.95, 0.105])
    assert rate_levels(rates).tolist() == [1, 1, 0, -1, 2, 1, 0]


def test_a_cycle_that_set_a_state_of_charge_is_not_an_ageing_cycle_even_in_a_class_of_two() -> None:
    # The first cycles of batterydata.energy.gov's p492-13 (tests/data/batterydata/p492-13-raw.csv), whose
    # own summary labels them: 2 "Capacity check", 4 unlabelled (a full cycle at 19 mA), 6 unlabelled (charged
    # to 3.7 V only, 1 mAh discharged: it sets a state of charge before the EIS of cycle 7), 9 "Aging cycle".
    # Figures (currents, durations, end voltages, capacities) as its samples give them.
    features = pd.DataFrame(
        {
            "cycle_index": [2, 4, 6, 9],
            "complete": [True] * 4,
            "flags": [None] * 4,
            "charge_capacity_ah": [0.02187, 0.03076, 0.00888, 0.01895],
            "discharge_capacity_ah": [0.02174, 0.01954, 0.00101, 0.01901],
            "discharge_current_median_a": [0.0010, 0.0190, 0.0190, 0.0095],
            "charge_duration_second": [82877.0, 6617.0, 1712.0, 3600.0],
            "discharge_duration_second": [82377.0, 3718.0, 196.0, 7204.0],
            "charge_end_voltage_v": [4.100, 4.101, 3.700, 4.071],
            "discharge_end_voltage_v": [3.0, 3.0, 3.0, 3.0],
            "segments": [2, 3, 2, 2],
        }
    )

    classified = classify_cycles(features).set_index("cycle_index")

    assert classified.loc[6, "cycle_class"] == "partial"
    assert not classified.loc[6, "complete"]
    assert classified.loc[6, "flags"] == "cut_short"
    assert classified.loc[9, "cycle_class"] == "ageing"
    assert classified.loc[[2, 4], "cycle_class"].tolist() == ["formation", "formation"]
