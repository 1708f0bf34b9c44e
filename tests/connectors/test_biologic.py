"""BioLogic connectors: real EC-Lab .mpr files and .mpt exports written from them (tests/data/NOTICE).

The two .mpt fixtures hold the .mpr files' own numbers, so each text test cross-checks the binary reader.
The .mpr reader is the optional GPL-3 package galvani (extra `biologic`): those tests need it installed.
"""

from __future__ import annotations

import builtins
import cmath
import importlib.util
import math
from collections.abc import Callable
from pathlib import Path
from types import ModuleType, SimpleNamespace
from typing import Any

import numpy as np
import pandas as pd
import pytest

from connectors import biologic
from connectors.base import IMPEDANCE_COLUMNS, REQUIRED_COLUMNS, FileHead, impedance_rows
from connectors.errors import CorruptFile
from processors.cycle_stats import stats_of_frame

DATA = Path(__file__).resolve().parents[1] / "data"
GCPL_MPR = DATA / "biologic" / "jdb11-1_c3_gcpl_5cycles_2V-3p8V_C-24_data_C09.mpr"
MB_MPR = DATA / "biologic" / "00_test_04_MB_C01.mpr"
GCPL_MPT = DATA / "biologic" / "gcpl_5cycles_C09_excerpt.mpt"
MB_MPT = DATA / "biologic" / "modulo_bat_C01_decimal_comma.mpt"
#: Generated (make_eis_fixture.py beside it): galvano-EIS sweeps between four 4 h pulses.
EIS_MPT = DATA / "biologic" / "modulo_bat_eis_pulses_C02.mpt"

needs_galvani = pytest.mark.skipif(  # galvani is in the dev/CI lock: these run in CI
    importlib.util.find_spec("galvani") is None,
    reason="the optional .mpr reader galvani is not installed (pip install 'blc-platform[biologic]')",
)

#: 2020-10-26 12:49:58 in London (GMT since 25 Oct) = 12:49:58 UTC.
GCPL_START = 1603716598.0
#: 2023-12-08 09:49:52.346 in London (GMT).
MB_START = 1702028992.346


# ----------------------------------------------------------------------------------------------- .mpr


@needs_galvani
@pytest.mark.parametrize(
    ("path", "rows", "first_time", "last_time", "start", "cycle_counts"),
    [
        pytest.param(GCPL_MPR, 46102, 0.0, 456309.586151314, GCPL_START, set(range(6)), id="gcpl"),
        pytest.param(MB_MPR, 1501, 16.1673996, 17.6671996, MB_START, {0}, id="modulo-bat"),
    ],
)
def test_reads_real_mpr_files(
    path: Path, rows: int, first_time: float, last_time: float, start: float, cycle_counts: set[int]
) -> None:
    result = biologic.CONNECTOR_MPR.read(path, timezone="Europe/London")
    frame = result.frame

    assert result.format == "biologic_mpr"
    assert len(frame) == rows
    assert set(REQUIRED_COLUMNS) <= set(frame.columns)
    assert frame["test_time_second"].dtype == np.float64
    assert frame["test_time_second"].iloc[0] == pytest.approx(first_time, abs=1e-6)
    assert frame["test_time_second"].iloc[-1] == pytest.approx(last_time, abs=1e-6)
    # unix time = acquisition start (lab time) + time/s
    assert frame["unix_time_second"].iloc[0] == pytest.approx(start + first_time, abs=1e-3)
    assert set(frame["cycle_count"].astype(int)) == cycle_counts
    assert result.first_data_line is None


@needs_galvani
def test_gcpl_mpr_values_and_current_sign() -> None:
    result = biologic.CONNECTOR_MPR.read(GCPL_MPR)
    frame = result.frame

    assert result.metadata["start_time"] == "2020-10-26 12:49:58"
    # No I/mA in this file: the current is dq/mA.h over the interval. Point 361 starts the first discharge
    # (Ns 1): dq = -9.835987e-09 mA.h in 0.0004 s; point 1204 is in the charge (Ns 2) at +88.8 µA.
    first_discharge = frame.iloc[361]
    assert first_discharge["step_id"] == 1
    assert first_discharge["test_time_second"] == pytest.approx(3600.000309056340)
    assert first_discharge["current_ampere"] == pytest.approx(-8.8523882e-05, rel=1e-6)
    assert first_discharge["voltage_volt"] == pytest.approx(2.5051956, rel=1e-7)
    assert first_discharge["power_watt"] == pytest.approx(-2.2176963e-04, rel=1e-7)
    charging = frame.iloc[1204]
    assert charging["step_id"] == 2
    assert charging["current_ampere"] == pytest.approx(8.8818202e-05, rel=1e-6)
    assert (frame.loc[frame["step_id"] == 2, "current_ampere"] > 0).all()
    assert (frame.loc[frame["step_id"] == 3, "current_ampere"] < 0).all()
    assert frame["current_ampere"].iloc[:361].eq(0).all()  # the opening rest
    # Q charge/discharge (per half cycle, signed) split into the per-cycle counters, in Ah.
    assert frame["cycle_discharging_capacity_ah"].iloc[-1] == pytest.approx(0.879491630e-3, rel=1e-7)
    assert frame["cycle_charging_capacity_ah"].iloc[:1203].isna().all()
    # cycle number from the counter-inc. bit: it flips at point 8729, the second charge.
    assert frame["cycle_count"].iloc[8728] == 0
    assert frame["cycle_count"].iloc[8729] == 1
    assert {"(Q-Qo)/mA.h", "half cycle", "control/V/mA", "I Range"} <= set(result.unmapped_columns)
    assert "dq/mA.h" not in result.unmapped_columns  # used for the current


@needs_galvani
def test_gcpl_mpr_cycle_capacities() -> None:
    rule, stats = stats_of_frame(biologic.CONNECTOR_MPR.read(GCPL_MPR).frame)

    assert rule == "instrument_counter"
    assert len(stats) == 6
    # Cycle 0 holds the opening discharge (0.2065 mAh) and the first charge and discharge.
    assert stats["charge_capacity_ah"].iloc[:3].tolist() == pytest.approx(
        [0.98678112e-3, 0.93709002e-3, 0.94194019e-3], rel=1e-6
    )
    assert stats["discharge_capacity_ah"].iloc[:3].tolist() == pytest.approx(
        [1.05938150e-3, 0.87632842e-3, 0.87467699e-3], rel=1e-6
    )
    # The current derived from dq integrates back to EC-Lab's own counters.
    assert stats["charge_capacity_ah"].to_numpy() == pytest.approx(
        stats["reported_charge_capacity_ah"].to_numpy(), rel=1e-5
    )
    assert stats["discharge_capacity_ah"].to_numpy() == pytest.approx(
        stats["reported_discharge_capacity_ah"].to_numpy(), rel=1e-5
    )
    assert stats["complete"].tolist() == [True] * 5 + [False]  # stops at the 2.0 V cut-off, no rest


@needs_galvani
def test_modulo_bat_mpr_reads_recorded_current() -> None:
    result = biologic.CONNECTOR_MPR.read(MB_MPR)
    frame = result.frame

    assert frame["current_ampere"].iloc[0] == pytest.approx(-4.4697911e-05, rel=1e-7)  # I/mA, in A
    assert frame["voltage_volt"].iloc[0] == pytest.approx(-1.6501378, rel=1e-7)
    assert "|Energy|/W.h" in result.unmapped_columns
    _rule, stats = stats_of_frame(frame)
    assert len(stats) == 1
    assert stats["charge_capacity_ah"].iloc[0] == 0.0
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(1.7944005e-08, rel=1e-6)
    assert stats["reported_discharge_capacity_ah"].iloc[0] == pytest.approx(1.7940747e-08, rel=1e-6)


@needs_galvani
@pytest.mark.parametrize("keep", [30_000, 100_000, 2_000_000], ids=["in-settings", "in-data", "near-end"])
def test_truncated_mpr_is_corrupt(tmp_path: Path, keep: int) -> None:
    path = tmp_path / "cut.mpr"
    path.write_bytes(GCPL_MPR.read_bytes()[:keep])

    with pytest.raises(CorruptFile, match=r"^cut.mpr: not a readable EC-Lab .mpr file"):
        biologic.CONNECTOR_MPR.read(path)


def test_mpr_without_galvani_names_the_extra(monkeypatch: pytest.MonkeyPatch) -> None:
    real_import = builtins.__import__

    def no_galvani(name: str, *args: Any, **kwargs: Any) -> Any:
        if name.split(".")[0] == "galvani":
            raise ImportError("No module named 'galvani'")
        return real_import(name, *args, **kwargs)

    monkeypatch.setattr(builtins, "__import__", no_galvani)

    with pytest.raises(biologic.BioLogicReaderMissing, match=r"\[biologic\]"):
        biologic.CONNECTOR_MPR.read(MB_MPR)
    assert issubclass(biologic.BioLogicReaderMissing, ImportError)  # a set-up problem: not quarantined


# ----------------------------------------------------------------------------------------------- .mpt


def test_reads_gcpl_mpt_excerpt() -> None:
    result = biologic.CONNECTOR_MPT.read(GCPL_MPT, timezone="Europe/London")
    frame = result.frame

    assert result.format == "biologic_mpt"
    assert result.first_data_line == 24  # "Nb header lines : 23": line 23 is the column header
    assert len(frame) == 1179
    assert frame["test_time_second"].iloc[0] == 0.0
    assert frame["test_time_second"].iloc[-1] == pytest.approx(456309.586151314)
    assert frame["unix_time_second"].iloc[0] == pytest.approx(GCPL_START)
    # line 34: 1 0 0 0 1 0 1 3.600000309056340E+003 -8.8796005E-002 2.5051956E+000 -9.835986627472771E-009 …
    row = frame.iloc[34 - 24]
    assert row["test_time_second"] == pytest.approx(3600.000309056340)
    assert row["step_id"] == 1
    assert row["voltage_volt"] == pytest.approx(2.5051956)
    assert row["power_watt"] == pytest.approx(-2.2176963e-04)
    assert row["cycle_discharging_capacity_ah"] == pytest.approx(9.835986627472771e-12)
    assert row["current_ampere"] < 0  # a discharge
    assert result.metadata["technique"] == "Galvanostatic Cycling with Potential Limitation"
    assert result.metadata["channel"] == "9"
    assert "half cycle" in result.unmapped_columns


def test_gcpl_mpt_matches_the_mpr_it_came_from() -> None:
    text = biologic.CONNECTOR_MPT.read(GCPL_MPT).frame
    rule, stats = stats_of_frame(text)

    assert rule == "instrument_counter"
    assert len(stats) == 6
    assert stats["charge_capacity_ah"].iloc[:3].tolist() == pytest.approx(
        [0.98675305e-3, 0.93706551e-3, 0.94193644e-3], rel=1e-6
    )
    assert stats["discharge_capacity_ah"].iloc[:3].tolist() == pytest.approx(
        [1.05838732e-3, 0.87573096e-3, 0.87445541e-3], rel=1e-6
    )
    # Every 40th point of the .mpr: the integrated capacities stay within 0.1 % of the instrument's.
    assert stats["charge_capacity_ah"].to_numpy() == pytest.approx(
        stats["reported_charge_capacity_ah"].to_numpy(), rel=1e-3
    )
    assert stats["discharge_capacity_ah"].to_numpy() == pytest.approx(
        stats["reported_discharge_capacity_ah"].to_numpy(), rel=1e-3
    )
    if importlib.util.find_spec("galvani") is None:
        return
    binary = biologic.CONNECTOR_MPR.read(GCPL_MPR).frame
    # time/s is written with 16 significant digits: match each text row to the nearest binary one.
    position = np.searchsorted(
        binary["test_time_second"].to_numpy(), text["test_time_second"].to_numpy() - 1e-6
    )
    matched = binary.iloc[position]
    assert matched["test_time_second"].to_numpy() == pytest.approx(
        text["test_time_second"].to_numpy(), abs=1e-6
    )
    assert matched["voltage_volt"].to_numpy() == pytest.approx(text["voltage_volt"].to_numpy(), rel=1e-7)
    assert (matched["cycle_count"].to_numpy() == text["cycle_count"].to_numpy()).all()
    assert (matched["step_id"].to_numpy() == text["step_id"].to_numpy()).all()
    for counter in ("cycle_charging_capacity_ah", "cycle_discharging_capacity_ah"):
        assert matched[counter].to_numpy() == pytest.approx(text[counter].to_numpy(), rel=1e-12, nan_ok=True)


def test_decimal_comma_mpt_matches_the_mpr() -> None:
    result = biologic.CONNECTOR_MPT.read(MB_MPT, timezone="Europe/London")
    frame = result.frame

    assert len(frame) == 300
    assert result.first_data_line == 15
    # line 15: 2 0 0 1 0 0 0 1,616739959157712E+001 -1,6499572E+000 -1,6501378E+000 -4,4697911E-002 …
    assert frame["test_time_second"].iloc[0] == pytest.approx(16.16739959157712)
    assert frame["voltage_volt"].iloc[0] == pytest.approx(-1.6501378)
    assert frame["current_ampere"].iloc[0] == pytest.approx(-4.4697911e-05)
    assert frame["unix_time_second"].iloc[0] == pytest.approx(MB_START + 16.16739959157712)
    assert set(frame["cycle_count"]) == {0}  # "cycle number" column, 0-based as EC-Lab writes it
    assert "counter inc." in result.unmapped_columns  # not needed: the file has its cycle number
    _rule, stats = stats_of_frame(frame)
    assert len(stats) == 1
    assert stats["discharge_capacity_ah"].iloc[0] == pytest.approx(3.6104368e-09, rel=1e-6)
    assert stats["reported_discharge_capacity_ah"].iloc[0] == pytest.approx(3.6018467e-09, rel=1e-6)
    if importlib.util.find_spec("galvani") is None:
        return
    binary = biologic.CONNECTOR_MPR.read(MB_MPR, timezone="Europe/London").frame.iloc[:300]
    for column in ("test_time_second", "unix_time_second", "current_ampere", "voltage_volt"):
        assert frame[column].to_numpy() == pytest.approx(binary[column].to_numpy(), rel=1e-7)


def _comma_copy(source: Path, target: Path) -> Path:
    lines = source.read_bytes().split(b"\r\n")
    header = int(lines[1].split(b":")[1])
    target.write_bytes(b"\r\n".join(lines[:header] + [line.replace(b".", b",") for line in lines[header:]]))
    return target


def test_decimal_comma_and_decimal_point_read_the_same(tmp_path: Path) -> None:
    comma = _comma_copy(GCPL_MPT, tmp_path / "comma.mpt")

    expected = biologic.CONNECTOR_MPT.read(GCPL_MPT).frame
    pd.testing.assert_frame_equal(biologic.CONNECTOR_MPT.read(comma).frame, expected)


def test_small_chunks_read_the_same_as_one(tmp_path: Path) -> None:
    whole = biologic.CONNECTOR_MPT.read(GCPL_MPT).frame
    streamed = biologic.CONNECTOR_MPT.stream(GCPL_MPT, chunk_rows=50)
    chunks = list(streamed.chunks(None))

    assert len(chunks) > 1  # the derived current and cycle count carry across chunk borders
    assert streamed.columns == tuple(whole.columns)
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), whole)
    few = pd.concat(streamed.chunks(["test_time_second", "current_ampere"]), ignore_index=True)
    assert list(few.columns) == ["test_time_second", "current_ampere"]


# ------------------------------------------------------------------------------------------ impedance


def _eis_generator() -> ModuleType:
    spec = importlib.util.spec_from_file_location(
        "make_eis_fixture", DATA / "biologic" / "make_eis_fixture.py"
    )
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_eis_mpt_fills_the_impedance_columns_on_its_eis_rows_only() -> None:
    rows = _eis_generator().build()
    eis = np.array([row["kind"] == "eis" for row in rows])
    result = biologic.CONNECTOR_MPT.read(EIS_MPT)
    frame = result.frame

    assert len(frame) == len(rows) == 500
    assert eis.sum() == 5 * 71  # five sweeps, 100 kHz to 10 mHz at 10 points per decade
    assert result.first_data_line == 19  # "Nb header lines : 18"
    for column in IMPEDANCE_COLUMNS:  # EC-Lab's zeros on the time-domain rows are no impedance
        assert (frame[column].notna().to_numpy() == eis).all(), column
    assert (impedance_rows(frame) == eis).all()
    assert {"|Ewe|/V", "|I|/A", "half cycle"} <= set(result.unmapped_columns)
    assert "freq/Hz" not in result.unmapped_columns
    points = frame[eis].reset_index(drop=True)
    # Sweep k (0-based): a Randles circuit, R_s = 2 Ω, R_ct = 10 + 2.5·k Ω, C_dl = 50 µF; written as float32.
    for i, point in points.iterrows():
        sweep, j = divmod(int(i), 71)
        frequency = 10.0 ** (5 - j / 10)
        r_ct = 10.0 + 2.5 * sweep
        z = 2.0 + r_ct / (1 + 1j * 2 * math.pi * frequency * r_ct * 50e-6)
        assert point["frequency_hertz"] == pytest.approx(frequency, rel=1e-7)
        assert point["real_impedance_ohm"] == pytest.approx(z.real, rel=1e-6)
        # the file's -Im(Z)/Ohm is positive; Im(Z) itself is stored: negative, capacitive
        assert point["imaginary_impedance_ohm"] == pytest.approx(z.imag, rel=1e-6)
        assert point["imaginary_impedance_ohm"] < 0
        assert point["absolute_impedance_ohm"] == pytest.approx(abs(z), rel=1e-6)
        assert point["phase_degree"] == pytest.approx(math.degrees(cmath.phase(z)), rel=1e-6)
    # The EIS rows' <I>/mA is the row's current as the file has it: ±0.1 mA, alternating in sign. As cycle
    # samples these would be the false charge/discharge transitions the loader keeps them from making.
    assert points["current_ampere"].iloc[:4].tolist() == pytest.approx([1e-4, -1e-4, 1e-4, -1e-4], rel=1e-7)


def test_eis_mpt_in_small_chunks_reads_the_same() -> None:
    whole = biologic.CONNECTOR_MPT.read(EIS_MPT).frame
    streamed = biologic.CONNECTOR_MPT.stream(EIS_MPT, chunk_rows=37)

    assert set(IMPEDANCE_COLUMNS) <= set(streamed.columns)
    pd.testing.assert_frame_equal(pd.concat(streamed.chunks(None), ignore_index=True), whole)


def test_mpr_impedance_columns_as_galvani_decodes_them(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    # galvani's names and types for an .mpr with EIS points (column ids 32, 35-38: float32): a rest, two
    # points at 1 kHz and 100 Hz, a pulse. No real .mpr with EIS is available to us.
    data = np.array(
        [
            (0.0, 3.7, 0.0, 0.0, 0.0, 0.0, 0.0, 0.0),
            (10.0, 3.7, 0.3, 1000.0, 2.5, 0.4, 2.5318, -9.0903),
            (12.0, 3.7, -0.3, 100.0, 3.0, 1.2, 3.2311, -21.801),
            (20.0, 3.6, -2.5, 0.0, 0.0, 0.0, 0.0, 0.0),
        ],
        dtype=[
            ("time/s", "<f8"),
            ("Ewe/V", "<f4"),
            ("I/mA", "<f4"),
            ("freq/Hz", "<f4"),
            ("Re(Z)/Ohm", "<f4"),
            ("-Im(Z)/Ohm", "<f4"),
            ("|Z|/Ohm", "<f4"),
            ("Phase(Z)/deg", "<f4"),
        ],
    )

    class FakeMpr:
        def __init__(self, handle: Any) -> None:
            self.data, self.flags_dict, self.version, self.timestamp = data, {}, 3, None

    monkeypatch.setattr(biologic, "_galvani", lambda: SimpleNamespace(MPRfile=FakeMpr))
    path = tmp_path / "eis.mpr"
    path.write_bytes(biologic.MPR_MAGIC)

    frame = biologic.CONNECTOR_MPR.read(path).frame

    assert impedance_rows(frame).tolist() == [False, True, True, False]
    assert frame["frequency_hertz"].tolist()[1:3] == [1000.0, 100.0]
    assert frame["imaginary_impedance_ohm"].tolist()[1:3] == pytest.approx([-0.4, -1.2], rel=1e-6)
    assert frame["real_impedance_ohm"].isna().tolist() == [True, False, False, True]
    assert frame["phase_degree"].tolist()[2] == pytest.approx(-21.801, rel=1e-6)


# ----------------------------------------------------------------------------------------------- sniff


def test_sniff_recognises_content_not_extension(tmp_path: Path) -> None:
    renamed = tmp_path / "export.txt"
    renamed.write_bytes(GCPL_MPT.read_bytes())
    binary = tmp_path / "export.dat"
    binary.write_bytes(MB_MPR.read_bytes()[:4096])

    for path in (GCPL_MPT, MB_MPT, renamed):
        assert biologic.CONNECTOR_MPT.sniff(FileHead.read(path))
        assert not biologic.CONNECTOR_MPR.sniff(FileHead.read(path))
    for path in (GCPL_MPR, MB_MPR, binary):
        assert biologic.CONNECTOR_MPR.sniff(FileHead.read(path))
        assert not biologic.CONNECTOR_MPT.sniff(FileHead.read(path))


def test_sniff_rejects_other_formats() -> None:
    others = [p for p in DATA.rglob("*") if p.is_file() and p.parent.name != "biologic"]
    assert DATA / "arbin" / "arbin_example.csv" in others

    for path in others:
        head = FileHead.read(path)
        assert not biologic.CONNECTOR_MPT.sniff(head), path
        assert not biologic.CONNECTOR_MPR.sniff(head), path


# --------------------------------------------------------------------------------------------- corrupt

Mutation = Callable[[list[bytes]], list[bytes]]


def _broken(tmp_path: Path, source: Path, mutate: Mutation) -> Path:
    lines = source.read_bytes().splitlines(keepends=True)
    path = tmp_path / "broken.mpt"
    path.write_bytes(b"".join(mutate(lines)))
    return path


def _field(line: bytes, index: int, value: bytes) -> bytes:
    fields = line.rstrip(b"\r\n").split(b"\t")
    fields[index] = value
    return b"\t".join(fields) + b"\r\n"


@pytest.mark.parametrize("source", [GCPL_MPT, MB_MPT], ids=["decimal-point", "decimal-comma"])
@pytest.mark.parametrize(
    ("mutate", "line", "words"),
    [
        pytest.param(lambda ls: [*ls[:99], ls[99][:40]], 100, "truncated", id="truncated-mid-row"),
        pytest.param(
            lambda ls: [*ls[:49], _field(ls[49], 9, b"2.5x"), *ls[50:]], 50, "not a number", id="text-in-ewe"
        ),
        pytest.param(
            lambda ls: [*ls[:59], b"\x00\x13\x9f\xff" * 8 + b"\r\n", *ls[60:]],
            60,
            "binary",
            id="binary-bytes",
        ),
    ],
)
def test_corrupt_mpt_names_the_line(
    tmp_path: Path, source: Path, mutate: Mutation, line: int, words: str
) -> None:
    path = _broken(tmp_path, source, mutate)

    with pytest.raises(CorruptFile) as caught:
        biologic.CONNECTOR_MPT.read(path)

    assert caught.value.line == line
    assert str(caught.value).startswith(f"broken.mpt: line {line}: ")
    assert words in str(caught.value)


def test_mpt_header_count_past_the_end_is_corrupt(tmp_path: Path) -> None:
    path = _broken(tmp_path, GCPL_MPT, lambda ls: [ls[0], b"Nb header lines : 5000\r\n", *ls[2:]])

    with pytest.raises(CorruptFile, match="before its column header"):
        biologic.CONNECTOR_MPT.read(path)


def test_mpt_without_rows_is_corrupt(tmp_path: Path) -> None:
    path = _broken(tmp_path, GCPL_MPT, lambda ls: ls[:23])

    with pytest.raises(CorruptFile, match="line 24: no data rows"):
        biologic.CONNECTOR_MPT.read(path)
