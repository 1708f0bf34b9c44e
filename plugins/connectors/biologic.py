"""BioLogic EC-Lab / BT-Lab files: the binary ``.mpr`` and its ``.mpt`` text export.

Both hold the same columns, named the EC-Lab way (``time/s``, ``Ewe/V``, ``I/mA``, ``cycle number``…); one
mapping serves the two formats.

- ``.mpr`` (``biologic_mpr``) is recognised by its magic bytes ``BIO-LOGIC MODULAR FILE``. Its layout is
  undocumented; it is read with the reverse-engineered reader of the ``galvani`` package, which is GPL-3 and
  therefore an *optional* extra (``pip install 'blc-platform[biologic]'``), imported only when an .mpr is
  read. Without it, reading an .mpr raises `BioLogicReaderMissing` (an ImportError: an installation problem,
  not a bad file). The date-time of the acquisition start comes from the file's LOG module.
- ``.mpt`` (``biologic_mpt``) is recognised by its first two lines, ``EC-Lab ASCII FILE`` (or ``BT-Lab``)
  and ``Nb header lines : N``. Line N is the tab-separated column header (it usually ends with a tab: an
  empty last name that the rows do not have); rows follow. The header block above it holds ``Acquisition
  started on : MM/DD/YYYY hh:mm:ss[.fff]``, the technique, channel, device, comments. Numbers use a decimal
  comma in some Windows locales (``3,6E+003``): both are read. Text is Windows-1252 (``°C``, ``µF``).

Column meaning (units converted to SI):

- ``time/s`` → ``test_time_second`` (time since the acquisition start; a technique that is not first in a
  linked sequence starts above 0). ``unix_time_second`` = acquisition start (naive lab time, localised in
  the lab timezone) + ``time/s``.
- ``I/mA`` (or ``<I>/mA``) → ``current_ampere``. BioLogic's sign: positive current is an oxidation of the
  working electrode, i.e. charging a full cell connected the usual way; kept as is (positive = charge).
  Files recorded without a current column (GCPL often records only ``dq/mA.h``, the charge passed since
  the previous point) get the current derived as dq / dt (the mean current over each interval): it
  integrates back to EC-Lab's own charge counters.
- ``Ecell/V`` (full-cell voltage, BT-Lab) is preferred as ``voltage_volt``, else ``Ewe/V``, else
  ``<Ewe>/V``; the other voltages stay unmapped.
- ``cycle number`` → ``cycle_count`` (EC-Lab writes it as a float that starts at 0). The .mpr never stores
  it: EC-Lab computes it when exporting, from the ``counter inc.`` bit, which flips each time the
  technique's loop counter advances. Files without ``cycle number`` get ``cycle_count`` = the number of
  flips so far (0-based, like EC-Lab's).
- ``Ns`` (sequence / step number of the technique) → ``step_id``; ``step time/s`` → ``step_time_second``;
  ``P/W`` → ``power_watt``; ``Temperature/°C`` → ``temperature_t1_celsius``.
- ``Q charge/mA.h`` / ``Q discharge/mA.h`` and ``Energy charge/W.h`` / ``Energy discharge/W.h`` restart
  every cycle → the ``cycle_…`` counters. When a file has no ``Q charge``/``Q discharge`` columns,
  ``Q charge/discharge/mA.h`` (restarts at every half cycle: positive while charging, negative while
  discharging) is split by its sign into the same per-cycle counters, as Maccor's ``Amp-hr``.
- Impedance (EIS: PEIS, GEIS, or their steps inside a Modulo Bat): ``freq/Hz`` → ``frequency_hertz``,
  ``Re(Z)/Ohm`` → ``real_impedance_ohm``, ``-Im(Z)/Ohm`` → ``imaginary_impedance_ohm`` with its sign turned
  (BDF stores Im(Z) itself), ``|Z|/Ohm`` → ``absolute_impedance_ohm``, ``Phase(Z)/deg`` (arg Z) →
  ``phase_degree``. EC-Lab writes 0 in these columns on the time-domain rows of a mixed file: there they
  are left empty, so a row is an impedance record exactly when its frequency is set. Such a row's current
  is no DC sample (``<I>/mA`` of an EIS point can alternate in sign from point to point): the loader keeps
  it out of the time series.
- Unmapped, listed in ``unmapped_columns``: ``(Q-Qo)/mA.h`` (net charge since the start, signed: no BDF
  column), ``|Energy|/W.h``, ``half cycle``, ``control/…``, ``I Range``, ``mode``, ``ox/red``, ``error``,
  ``… changes``, ``Capacity/mA.h``, ``Efficiency/%``, ``|Ewe|/V`` and ``|I|/A`` (EIS amplitudes).
"""

from __future__ import annotations

import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from connectors.base import (
    DEFAULT_CHUNK_ROWS,
    IMPEDANCE_COLUMNS,
    Connector,
    FileHead,
    ReadResult,
    StreamedRead,
    WholeFileConnector,
    to_canonical,
)
from connectors.errors import CorruptFile, UnsupportedFormat
from connectors.tabular import ColumnRule, MappedColumn, iter_mapped_table

NAME_MPR = "biologic_mpr"
NAME_MPT = "biologic_mpt"
PARSER_VERSION = "1"

MPR_MAGIC = b"BIO-LOGIC MODULAR FILE"
MPT_FIRST_LINES = ("EC-Lab ASCII FILE", "BT-Lab ASCII FILE")
#: How to get the optional GPL-3 .mpr reader (kept in one place for the README and the error).
INSTALL_HINT = "pip install 'blc-platform[biologic]'  (the `biologic` extra: galvani==0.5.0, GPL-3)"

_NB_HEADER_LINES = re.compile(r"^\s*Nb header lines\s*:\s*(\d+)\s*$")
_ENCODING = "cp1252"

#: EC-Lab column name → (canonical column, factor to SI). Exact names: EC-Lab's are fixed strings.
_DIRECT: dict[str, tuple[str, float]] = {
    "time/s": ("test_time_second", 1.0),
    "step time/s": ("step_time_second", 1.0),
    "Ns": ("step_id", 1.0),
    "cycle number": ("cycle_count", 1.0),
    "P/W": ("power_watt", 1.0),
    "Q charge/mA.h": ("cycle_charging_capacity_ah", 1e-3),
    "Q discharge/mA.h": ("cycle_discharging_capacity_ah", 1e-3),
    "Energy charge/W.h": ("cycle_charging_energy_wh", 1.0),
    "Energy discharge/W.h": ("cycle_discharging_energy_wh", 1.0),
    "Temperature/°C": ("temperature_t1_celsius", 1.0),
    "freq/Hz": ("frequency_hertz", 1.0),
    "Re(Z)/Ohm": ("real_impedance_ohm", 1.0),
    "-Im(Z)/Ohm": ("imaginary_impedance_ohm", -1.0),
    "|Z|/Ohm": ("absolute_impedance_ohm", 1.0),
    "Phase(Z)/deg": ("phase_degree", 1.0),
}
#: Several EC-Lab columns can give one canonical column: the first present wins.
_CURRENT = (("I/mA", 1e-3), ("<I>/mA", 1e-3))
_VOLTAGE = (("Ecell/V", 1.0), ("Ewe/V", 1.0), ("<Ewe>/V", 1.0), ("<Ewe/V>", 1.0))
#: Charge passed since the previous point, used for the current when the file has no current column.
_DQ = (("dq/mA.h", 1e-3), ("dQ/mA.h", 1e-3), ("dq/C", 1 / 3600), ("dQ/C", 1 / 3600))
_HALF_CYCLE_Q = ("Q charge/discharge/mA.h", 1e-3)
_COUNTER_INC = "counter inc."
_TIME = "time/s"


class BioLogicReaderMissing(ImportError):
    """The optional .mpr reader (galvani, GPL-3) is not installed."""


@dataclass(frozen=True)
class _Plan:
    """Which EC-Lab columns become which canonical ones (decided once from the column names)."""

    direct: tuple[tuple[str, str, float], ...]
    current: tuple[str, float] | None
    voltage: tuple[str, float] | None
    dq: tuple[str, float] | None
    half_cycle_q: tuple[str, float] | None
    counter_inc: str | None
    #: Every column of the file, in file order.
    names: tuple[str, ...]

    @property
    def unmapped(self) -> tuple[str, ...]:
        used = set(self.used)
        return tuple(name for name in self.names if name not in used and not name.startswith("_empty_"))

    @property
    def used(self) -> tuple[str, ...]:
        names = [vendor for vendor, _, _ in self.direct]
        for choice in (self.current, self.voltage, self.dq, self.half_cycle_q):
            if choice is not None:
                names.append(choice[0])
        if self.counter_inc is not None:
            names.append(self.counter_inc)
        return tuple(dict.fromkeys(names))

    @property
    def produces(self) -> tuple[str, ...]:
        names = [canonical for _, canonical, _ in self.direct]
        if self.current is not None or self.dq is not None:
            names.append("current_ampere")
        if self.voltage is not None:
            names.append("voltage_volt")
        if self.half_cycle_q is not None:
            names += ["cycle_charging_capacity_ah", "cycle_discharging_capacity_ah"]
        if self.counter_inc is not None:
            names.append("cycle_count")
        return tuple(dict.fromkeys(names))


def _plan(names: Sequence[str], file_label: str) -> _Plan:
    present = set(names)

    def first(choices: Sequence[tuple[str, float]]) -> tuple[str, float] | None:
        return next((choice for choice in choices if choice[0] in present), None)

    direct = tuple((name, *_DIRECT[name]) for name in names if name in _DIRECT)
    current = first(_CURRENT)
    voltage = first(_VOLTAGE)
    dq = first(_DQ) if current is None else None
    has_cycle_q = "Q charge/mA.h" in present or "Q discharge/mA.h" in present
    half_cycle_q = _HALF_CYCLE_Q if _HALF_CYCLE_Q[0] in present and not has_cycle_q else None
    counter_inc = _COUNTER_INC if _COUNTER_INC in present and "cycle number" not in present else None
    missing = [
        what
        for what, ok in (
            (_TIME, _TIME in present),
            ("a current (I/mA, <I>/mA or dq/mA.h)", current is not None or dq is not None),
            ("a voltage (Ecell/V, Ewe/V or <Ewe>/V)", voltage is not None),
        )
        if not ok
    ]
    if missing:
        raise CorruptFile(file_label, f"EC-Lab data without {', '.join(missing)}")
    return _Plan(direct, current, voltage, dq, half_cycle_q, counter_inc, tuple(names))


@dataclass
class _Carry:
    """What one chunk hands to the next (rows are converted chunk by chunk, in file order)."""

    time: float | None = None
    current: float | None = None
    counter_inc: float | None = None
    cycle: int = 0


def _convert(raw: pd.DataFrame, plan: _Plan, carry: _Carry, start_epoch: float | None) -> pd.DataFrame:
    """EC-Lab columns (vendor names, vendor units) → canonical frame; updates `carry` for the next chunk."""
    out = pd.DataFrame(index=pd.RangeIndex(len(raw)))
    for vendor, canonical, factor in plan.direct:
        values = raw[vendor].to_numpy(dtype=np.float64)
        out[canonical] = values * factor if factor != 1.0 else values
    time = raw[_TIME].to_numpy(dtype=np.float64)
    if plan.voltage is not None:
        out["voltage_volt"] = raw[plan.voltage[0]].to_numpy(dtype=np.float64) * plan.voltage[1]
    if plan.current is not None:
        out["current_ampere"] = raw[plan.current[0]].to_numpy(dtype=np.float64) * plan.current[1]
    elif plan.dq is not None:
        out["current_ampere"] = _current_from_dq(
            time, raw[plan.dq[0]].to_numpy(dtype=np.float64) * plan.dq[1], carry
        )
    if plan.half_cycle_q is not None:
        counter = raw[plan.half_cycle_q[0]].to_numpy(dtype=np.float64) * plan.half_cycle_q[1]
        out["cycle_charging_capacity_ah"] = np.where(counter > 0, counter, np.nan)
        out["cycle_discharging_capacity_ah"] = np.where(counter < 0, -counter, np.nan)
    if plan.counter_inc is not None:
        flag = raw[plan.counter_inc].to_numpy(dtype=np.float64)
        previous = np.concatenate(([flag[0] if carry.counter_inc is None else carry.counter_inc], flag[:-1]))
        cycle = carry.cycle + np.cumsum(flag != previous)
        out["cycle_count"] = cycle
        if flag.size:
            carry.counter_inc, carry.cycle = float(flag[-1]), int(cycle[-1])
    if "frequency_hertz" in out:  # EC-Lab's 0 on a time-domain row: no impedance measured there
        no_impedance = ~(out["frequency_hertz"].to_numpy() > 0)
        for name in IMPEDANCE_COLUMNS:
            if name in out:
                out.loc[no_impedance, name] = np.nan
    if start_epoch is not None:
        out["unix_time_second"] = start_epoch + time
    if time.size:
        carry.time = float(time[-1])
    return to_canonical(out)


def _current_from_dq(time: np.ndarray, dq_ah: np.ndarray, carry: _Carry) -> np.ndarray:
    """Mean current (A) over the interval that ends at each point: charge passed / time elapsed."""
    previous = np.concatenate(([np.nan if carry.time is None else carry.time], time[:-1]))
    dt = time - previous
    current = np.full(time.shape, np.nan)
    np.divide(dq_ah * 3600.0, dt, out=current, where=dt > 0)
    series = pd.Series(current)
    if carry.current is not None and series.size and np.isnan(series.iloc[0]):
        series.iloc[0] = carry.current
    # A repeated time stamp keeps the previous current; the file's first point (no interval yet) takes
    # the next one's, or 0 when no charge passed at all.
    series = series.ffill().bfill().fillna(0.0)
    if series.size:
        carry.current = float(series.iloc[-1])
    return series.to_numpy(dtype=np.float64)


def _start_epoch(text: str | None, timezone: str) -> float | None:
    """'10/26/2020 12:49:58.123' (EC-Lab writes the date MM/DD/YYYY, older versions MM.DD.YYYY or
    MM-DD-YYYY) in the lab's timezone → UTC epoch seconds."""
    if not text:
        return None
    value = re.sub(r"^(\d{1,2})[.-](\d{1,2})[.-](\d{2,4})", r"\1/\2/\3", text.strip()).replace(",", ".")
    for fmt in ("%m/%d/%Y %H:%M:%S.%f", "%m/%d/%Y %H:%M:%S", "%m/%d/%y %H:%M:%S.%f", "%m/%d/%y %H:%M:%S"):
        try:
            stamp = pd.to_datetime(value, format=fmt)
        except ValueError:
            continue
        return _epoch(stamp, timezone)
    return None


def _epoch(stamp: Any, timezone: str) -> float:
    """A naive lab-time start → UTC epoch seconds (a start inside the autumn's repeated hour is taken as
    standard time)."""
    local = pd.Timestamp(stamp).tz_localize(timezone, ambiguous=False, nonexistent="shift_forward")
    return float(local.timestamp())


# --------------------------------------------------------------------------------------------- .mpr


def _galvani() -> Any:
    try:
        from galvani import BioLogic  # GPL-3: optional, imported only when an .mpr is read
    except ImportError as exc:
        raise BioLogicReaderMissing(
            f"reading BioLogic .mpr files needs the optional package galvani: {INSTALL_HINT}"
        ) from exc
    return BioLogic


class BioLogicMpr(WholeFileConnector):
    name = NAME_MPR
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        return head.raw.startswith(MPR_MAGIC)

    def read(self, path: Path, *, timezone: str = "UTC") -> ReadResult:
        reader = _galvani()
        label = path.name
        try:
            with path.open("rb") as handle:
                mpr = reader.MPRfile(handle)
        except NotImplementedError as exc:  # a column id galvani does not know
            raise UnsupportedFormat(label, f"EC-Lab .mpr with an unknown layout: {exc}") from exc
        except (ValueError, OSError, AssertionError, KeyError, IndexError, TypeError) as exc:
            raise CorruptFile(label, f"not a readable EC-Lab .mpr file ({_one_line(exc)})") from exc
        data = mpr.data
        raw = pd.DataFrame({name: data[name] for name in data.dtype.names if name != "flags"})
        for flag in getattr(mpr, "flags_dict", {}):
            raw[flag] = mpr.get_flag(flag)
        if raw.empty:
            raise CorruptFile(label, "the .mpr data module holds no points")
        plan = _plan(list(raw.columns), label)
        started = getattr(mpr, "timestamp", None)
        metadata: dict[str, Any] = {"source_format": "EC-Lab .mpr", "data_module_version": str(mpr.version)}
        start_epoch = None
        if started is not None:
            metadata["start_time"] = started.isoformat(sep=" ")
            start_epoch = _epoch(started, timezone)
        elif getattr(mpr, "startdate", None) is not None:
            metadata["start_date"] = mpr.startdate.isoformat()
        if getattr(mpr, "enddate", None) is not None:
            metadata["end_date"] = mpr.enddate.isoformat()
        frame = _convert(raw, plan, _Carry(), start_epoch)
        return ReadResult(
            frame=frame,
            format=NAME_MPR,
            parser_version=PARSER_VERSION,
            first_data_line=None,
            metadata=metadata,
            unmapped_columns=plan.unmapped,
        )


def _one_line(exc: BaseException) -> str:
    text = " ".join(str(exc).split()) or type(exc).__name__
    return text[:200]


# --------------------------------------------------------------------------------------------- .mpt


@dataclass(frozen=True)
class _MptLayout:
    header_line: int
    headers: list[str]
    comma_decimal: bool
    block: list[str] = field(default_factory=list)


def _mpt_layout(path: Path) -> _MptLayout:
    label = path.name
    with path.open("rb") as handle:
        first = handle.readline().decode(_ENCODING, errors="replace").strip()
        second = handle.readline().decode(_ENCODING, errors="replace")
        match = _NB_HEADER_LINES.match(second)
        if first not in MPT_FIRST_LINES or match is None:
            raise CorruptFile(label, "not an EC-Lab text export (no 'Nb header lines : N' on line 2)", line=2)
        header_line = int(match.group(1))
        if header_line < 3:
            raise CorruptFile(label, f"'Nb header lines : {header_line}' is below 3", line=2)
        block: list[str] = []
        for _ in range(header_line - 3):
            raw = handle.readline()
            if not raw:
                break
            block.append(raw.decode(_ENCODING, errors="replace").rstrip("\r\n"))
        header_raw = handle.readline()
        data_raw = handle.readline()
    if not header_raw:
        raise CorruptFile(label, f"the file ends before its column header (line {header_line})", line=2)
    headers = [
        cell.strip() for cell in header_raw.decode(_ENCODING, errors="replace").rstrip("\r\n").split("\t")
    ]
    if "time/s" not in headers:
        raise CorruptFile(label, "the column header has no time/s column", line=header_line)
    first_row = data_raw.decode(_ENCODING, errors="replace").rstrip("\r\n").split("\t") if data_raw else []
    # The header usually ends with a tab that the rows do not have.
    while headers and headers[-1] == "" and len(first_row) < len(headers):
        headers.pop()
    headers = [name or f"_empty_{index}" for index, name in enumerate(headers)]
    comma = any(re.fullmatch(r"[-+]?\d+,\d*(?:[Ee][-+]?\d+)?", cell.strip()) for cell in first_row)
    return _MptLayout(header_line=header_line, headers=headers, comma_decimal=comma, block=block)


def _mpt_metadata(block: list[str]) -> dict[str, Any]:
    found: dict[str, Any] = {"source_format": "EC-Lab .mpt"}
    technique = next((line.strip() for line in block if line.strip()), "")
    if technique and " : " not in technique:
        found["technique"] = technique
    keys = {
        "Acquisition started on": "start_time",
        "Run on channel": "channel",
        "Device": "device",
        "Comments": "comments",
        "Electrode material": "electrode_material",
        "Electrolyte": "electrolyte",
        "File": "source_filename",
        "Cycle Definition": "cycle_definition",
    }
    for line in block:
        if " : " not in line:
            continue
        key, value = (part.strip() for part in line.split(" : ", 1))
        if key in keys and value and keys[key] not in found:
            found[keys[key]] = value
        elif key == "Battery capacity" and value:
            number = re.match(r"([-+]?\d+(?:[.,]\d*)?)\s*(m?A\.h)", value)
            if number:
                capacity = float(number.group(1).replace(",", ".")) * (
                    1e-3 if number.group(2) == "mA.h" else 1.0
                )
                if capacity > 0:
                    found["nominal_capacity_ah"] = capacity
    return found


class BioLogicMpt(Connector):
    name = NAME_MPT
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        if head.is_binary:
            return False
        lines = head.raw[:256].decode(_ENCODING, errors="replace").lstrip("\ufeff").splitlines()
        return (
            len(lines) >= 2
            and lines[0].strip() in MPT_FIRST_LINES
            and _NB_HEADER_LINES.match(lines[1]) is not None
        )

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        label = path.name
        layout = _mpt_layout(path)
        plan = _plan(layout.headers, label)
        metadata = _mpt_metadata(layout.block)
        start_epoch = _start_epoch(metadata.get("start_time"), timezone)
        # Every used column is read as a number; with a decimal comma, as text converted here instead.
        kind = "text" if layout.comma_decimal else "number"
        columns = [MappedColumn(name, ColumnRule(name, "count", kind=kind), 1.0) for name in plan.used]
        first_line = layout.header_line + 1
        produces = plan.produces + (("unix_time_second",) if start_epoch is not None else ())

        def chunks(wanted: Sequence[str] | None) -> Iterator[pd.DataFrame]:
            carry = _Carry()
            rows = 0
            for raw in _iter_rows(path, label, layout, columns, chunk_rows):
                if raw.empty:
                    continue
                if layout.comma_decimal:
                    raw = _comma_numbers(raw, label, first_line + rows)
                frame = _convert(raw, plan, carry, start_epoch)
                rows += len(frame)
                yield frame if wanted is None else frame[[c for c in frame.columns if c in wanted]]
            if rows == 0:
                raise CorruptFile(label, "no data rows after the header", line=first_line)

        return StreamedRead(
            format=NAME_MPT,
            parser_version=PARSER_VERSION,
            columns=tuple(name for name in to_canonical(pd.DataFrame(columns=produces)).columns),
            chunks=chunks,
            first_data_line=first_line,
            metadata=metadata,
            unmapped_columns=plan.unmapped,
        )


def _iter_rows(
    path: Path, label: str, layout: _MptLayout, columns: list[MappedColumn], chunk_rows: int
) -> Iterator[pd.DataFrame]:
    return iter_mapped_table(
        path,
        file_label=label,
        header_line=layout.header_line,
        headers=layout.headers,
        columns=columns,
        chunk_rows=chunk_rows,
        delimiter="\t",
    )


def _comma_numbers(raw: pd.DataFrame, label: str, first_line: int) -> pd.DataFrame:
    """Decimal-comma text → float64, naming the first line whose value is not a number."""
    out = pd.DataFrame(index=raw.index)
    for name in raw.columns:
        text = raw[name].astype("string").str.strip().str.replace(",", ".", regex=False)
        values = pd.to_numeric(text, errors="coerce")
        bad = values.isna() & text.notna() & (text != "")
        if bad.any():
            row = int(np.flatnonzero(bad.to_numpy())[0])
            raise CorruptFile(
                label,
                f"column {name!r}: value {raw[name].iloc[row]!r} is not a number",
                line=first_line + row,
            )
        out[name] = values.astype("float64").to_numpy(dtype=np.float64, na_value=np.nan)
    return out


CONNECTOR_MPR = BioLogicMpr()
CONNECTOR_MPT = BioLogicMpt()
CONNECTOR = CONNECTOR_MPT
