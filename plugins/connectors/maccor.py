"""Maccor text exports: the raw export (``.NNN``) and the tab-separated text flavours.

- A header block of one or more lines (``Today's Date …``, ``Filename:``, ``Procedure:``), then the column
  header that starts with ``Rec#``, then tab-separated rows.
- Times as ``Test (Sec)`` / ``Step (Sec)``, ``Test (Min)`` / ``Step (Min)``, or ``TestTime`` / ``StepTime``
  written as ``0d 00:00:05.0000``.
- ``Amps`` is unsigned in some exports and signed in others; ``State`` says what the channel did (``C``
  charge, ``D`` discharge, ``R`` rest). The sign is taken from the state: + for C, − for D.
- ``Amp-hr`` / ``Watt-hr`` count the charge (during C) or the discharge (during D) and restart at every
  step (``maccor_001.txt``: again at the CV step after the CC step of the same charge): they become the
  step-scope reported counters (``step_charging_capacity_ah``…), split by state.
- ``Cyc#`` is the instrument's cycle counter (→ ``cycle_count``). Some procedures never advance it
  (``xTESLADIAG_000019_CH70.070``: ~30 cycles under Cyc# 1); the pipeline's cycle rule finds those cycles.
- ``DPt Time`` is the lab's local wall-clock time (``MM/DD/YYYY hh:mm:ss``; a row at exactly midnight is
  written as the date alone).
- ``State`` ``S`` is the record written when the test was stopped before its procedure ended it (operator,
  safety limit, alarm): it becomes ``instrument_stop`` = 1 (0 on every other record), and the cycle holding
  it is not complete. ``O`` is not a stop: it is the record of the procedure's own End step, after the last
  step ended on its limit (``O``/193, the last row of ``PredictionDiagnostics_000109_tztest.010``,
  ``maccor_001.txt`` and the EIS file). ``ES`` (end status) is not used for stops: below 128 it marks a
  reading inside a step (0 on the step's first reading; 1 and 5 on the readings logged after it), from 128
  to 255 the reading that ended the step on one of its own end conditions (BEEP's reading of it; in the
  files we hold 129 closes rests ended on time, 132/133 charges and discharges ended on current or
  voltage). No public reader or document we found names a code for a stop, a safety limit or an
  interruption.
- Exports in milli-units name them in the header (``Current [mA]``, ``Current (mA)``, ``Voltage (mV)``,
  ``Cap. [mAh]``, ``Capacity (mAh)``, ``Energy (mWh)``, and the WMG/SIMBA exports' ``mAmps``, ``mAmp-hr``,
  ``mWatt-hr``): converted to A, V, Ah, Wh.
- Some exports end every data row with a tab (one empty field more than the header): read as if it were
  not there; a value in that place is an error naming its line.
- Auxiliary channels come as ``Aux #1`` followed by a `` Units`` column; the first one measured in °C
  with a plausible first reading (−60…150 °C: an unplugged thermocouple reads about −2500) becomes
  ``temperature_t1_celsius``.
- The MIMS-client flavour (cellpy's ``maccor_two.txt``): a ``Name:``/``Channel``/``Started`` block, then
  ``Rec, Cycle P, Cycle C, Step, TestTime, StepTime, Cap. [Ah], Ener. [Wh], Current [A], Voltage [V], Md,
  ES, DPT Time`` with decimal commas and a blank line after the header. ``Cycle C`` is the cycle counter,
  ``Md`` the state. Its ``TestTime`` is a plain number whose unit is not written: it is judged from the
  ``DPT Time`` clock over the first rows (minutes in that file).
"""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pandas as pd

from connectors.base import DEFAULT_CHUNK_ROWS, Connector, FileHead, StreamedRead, to_canonical
from connectors.errors import CorruptFile
from connectors.tabular import ColumnRule, MappedColumn, read_header_row, stream_headed_csv

NAME = "maccor_text"
PARSER_VERSION = "2"  # 2: instrument_stop (State S), milli-unit headers, trailing tabs, midnight dates

#: Exact Maccor header → rule and factor to SI. Maccor's headers are fixed strings, so they are matched
#: whole ("Step" is the step number, "Step (Sec)" the step time). Both flavours' names are here.
_COLUMNS: dict[str, tuple[ColumnRule, float]] = {
    "Rec#": (ColumnRule("record_index", "count"), 1.0),
    "Rec": (ColumnRule("record_index", "count"), 1.0),
    "Cyc#": (ColumnRule("cycle_count", "count"), 1.0),
    "Cycle C": (ColumnRule("cycle_count", "count"), 1.0),
    "Step": (ColumnRule("step_id", "count"), 1.0),
    "Test (Sec)": (ColumnRule("test_time_second", "time"), 1.0),
    "Step (Sec)": (ColumnRule("step_time_second", "time"), 1.0),
    "Test (Min)": (ColumnRule("test_time_second", "time"), 60.0),
    "Step (Min)": (ColumnRule("step_time_second", "time"), 60.0),
    "TestTime": (ColumnRule("test_time_second", "time", kind="duration"), 1.0),
    "StepTime": (ColumnRule("step_time_second", "time", kind="duration"), 1.0),
    "Amps": (ColumnRule("_amps", "current"), 1.0),
    "Current [A]": (ColumnRule("_amps", "current"), 1.0),
    "Volts": (ColumnRule("voltage_volt", "voltage"), 1.0),
    "Voltage [V]": (ColumnRule("voltage_volt", "voltage"), 1.0),
    "Amp-hr": (ColumnRule("_amp_hr", "capacity"), 1.0),
    "Cap. [Ah]": (ColumnRule("_amp_hr", "capacity"), 1.0),
    "Watt-hr": (ColumnRule("_watt_hr", "energy"), 1.0),
    "Ener. [Wh]": (ColumnRule("_watt_hr", "energy"), 1.0),
    "State": (ColumnRule("_state", "count", kind="text"), 1.0),
    "Md": (ColumnRule("_state", "count", kind="text"), 1.0),
    "DPt Time": (ColumnRule("unix_time_second", "time", kind="text"), 1.0),
    "DPT Time": (ColumnRule("unix_time_second", "time", kind="text"), 1.0),
    "DCIR/Ohms": (ColumnRule("internal_resistance_ohm", "resistance"), 1.0),
}
#: Headers that carry their unit, e.g. ``Current [mA]``, ``Voltage (mV)``, ``Cap. [mAh]``, ``Amp-hr (mAh)``,
#: ``mAmps``: base name → (rule, the unit it must be in).
_AH = ("Ah", "A-hr", "AHr")
_WH = ("Wh", "W-hr", "WHr")
_UNIT_BASES: dict[str, tuple[ColumnRule, tuple[str, ...]]] = {
    **dict.fromkeys(("Amps", "Current"), (ColumnRule("_amps", "current"), ("A",))),
    **dict.fromkeys(("Volts", "Voltage"), (ColumnRule("voltage_volt", "voltage"), ("V",))),
    **dict.fromkeys(("Amp-hr", "Cap.", "Capacity"), (ColumnRule("_amp_hr", "capacity"), _AH)),
    **dict.fromkeys(("Watt-hr", "Ener.", "Energy"), (ColumnRule("_watt_hr", "energy"), _WH)),
}
_PREFIXES = {"": 1.0, "m": 1e-3, "µ": 1e-6, "u": 1e-6}
_BASES = "|".join(re.escape(base) for base in _UNIT_BASES)
_WITH_UNIT = re.compile(rf"^(?P<base>{_BASES})\s*[\[(](?P<prefix>[mµu]?)(?P<unit>[A-Za-z-]+)[\])]$")
_GLUED = re.compile(r"^(?P<prefix>[mµu])(?P<base>Amps|Volts|Amp-hr|Watt-hr)$")
#: A header row starts with the record number and names a current, a voltage and a state column.
_RECORD_HEADERS = ("Rec#", "Rec")


def column_rule(header: str) -> tuple[ColumnRule, float] | None:
    """The rule and factor to SI of a Maccor header: exact names first, then names that carry their unit."""
    known = _COLUMNS.get(header)
    if known is not None:
        return known
    match = _WITH_UNIT.match(header) or _GLUED.match(header)
    if match is None:
        return None
    rule, units = _UNIT_BASES[match.group("base")]
    unit = match.groupdict().get("unit") or units[0]
    if unit not in units:
        return None
    return rule, _PREFIXES[match.group("prefix")]


_TIME_COLUMNS = ("TestTime", "StepTime")
#: Plausible first reading of an auxiliary temperature channel, °C.
_AUX_CELSIUS = (-60.0, 150.0)
#: What a chunk holds after `_finish`, in canonical names.
_PRODUCED = {
    "_amps": ("current_ampere",),
    "_amp_hr": ("step_charging_capacity_ah", "step_discharging_capacity_ah"),
    "_watt_hr": ("step_charging_energy_wh", "step_discharging_energy_wh"),
    "_state": ("instrument_stop",),
}
_HEADER_SEARCH_LINES = 40


def find_header_line(text: str) -> int | None:
    """1-based line of the column header (``Rec#`` or ``Rec`` first, with a current, a voltage and a state
    column) among the first lines, or None."""
    for number, line in enumerate(text.splitlines()[:_HEADER_SEARCH_LINES], start=1):
        cells = [cell.strip() for cell in line.split("\t")]
        if not cells or cells[0] not in _RECORD_HEADERS:
            continue
        kinds = {rule.canonical for rule, _ in filter(None, map(column_rule, cells))}
        if {"_amps", "voltage_volt", "_state"} <= kinds:
            return number
    return None


class MaccorText(Connector):
    name = NAME
    parser_version = PARSER_VERSION

    def sniff(self, head: FileHead) -> bool:
        return not head.is_binary and find_header_line(head.text) is not None

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        head = FileHead.read(path).raw.decode("utf-8", errors="replace")
        header_line = find_header_line(head)
        if header_line is None:
            raise CorruptFile(path.name, "no Maccor column header (Rec#, Cyc#, …, Amps, Volts, State)")
        headers = read_header_row(path, header_line=header_line, delimiter="\t")
        sample = _first_rows(head, header_line)
        decimal = "," if _uses_decimal_comma(headers, sample) else "."
        mapped, unmapped = _map(headers, path.name, header_line, sample, decimal, timezone)
        produced = tuple(
            name
            for column in mapped
            for name in _PRODUCED.get(column.rule.canonical, (column.rule.canonical,))
        )
        return stream_headed_csv(
            path,
            {},
            format_name=NAME,
            parser_version=PARSER_VERSION,
            timezone=timezone,
            chunk_rows=chunk_rows,
            counters=("cycle_count", "step_id"),
            finish=_finish,
            metadata=_metadata(head, header_line),
            header_line=header_line,
            delimiter="\t",
            mapping=(mapped, unmapped),
            produces=produced,
            decimal=decimal,
            trailing_empty_field=_rows_end_with_a_tab(headers, sample),
        )


def _rows_end_with_a_tab(headers: list[str], sample: list[list[str]]) -> bool:
    """Every sampled data row holds one field more than the header names, empty on the first row: the export
    ends each row with a tab (the header line without one). A row with a value there is refused by the
    reader, naming its line."""
    return bool(sample) and not sample[0][-1].strip() and all(len(row) == len(headers) + 1 for row in sample)


def _first_rows(head: str, header_line: int, count: int = 50) -> list[list[str]]:
    """The first non-blank data rows after the header, split on tabs (the last, maybe cut, line left out)."""
    lines = head.splitlines()[header_line:-1]
    return [line.split("\t") for line in lines if line.strip()][:count]


def _uses_decimal_comma(headers: list[str], sample: list[list[str]]) -> bool:
    """Decimal commas: the voltage column reads like ``3,4625``."""
    column = next(
        (
            i
            for i, h in enumerate(headers)
            if (column_rule(h) or (None,))[0] == ColumnRule("voltage_volt", "voltage")
        ),
        None,
    )
    if column is None:
        return False
    values = [row[column].strip() for row in sample if column < len(row) and row[column].strip()]
    return bool(values) and all(re.fullmatch(r"-?\d+,\d+", v) for v in values[:10])


def _map(
    headers: list[str],
    label: str,
    header_line: int,
    sample: list[list[str]],
    decimal: str,
    timezone: str,
) -> tuple[list[MappedColumn], list[str]]:
    mapped: list[MappedColumn] = []
    unmapped: list[str] = []
    taken: set[str] = set()
    for position, header in enumerate(headers):
        known = column_rule(header)
        if header in _TIME_COLUMNS and known is not None and not _looks_like_duration(sample, position):
            factor = _clock_factor(headers, sample, position, decimal)
            known = (ColumnRule(known[0].canonical, "time"), factor)
        if (
            known is None
            and header.startswith("Aux #")
            and "temperature_t1_celsius" not in taken
            and _aux_is_celsius(headers, sample, position, decimal)
        ):
            known = (ColumnRule("temperature_t1_celsius", "temperature"), 1.0)
        if known is None or known[0].canonical in taken:
            if header:
                unmapped.append(header)
            continue
        rule, factor = known
        taken.add(rule.canonical)
        mapped.append(MappedColumn(header, rule, factor))
    required = {"_amps", "voltage_volt", "_state", "test_time_second"}
    if not required <= taken:
        missing = ", ".join(sorted(required - taken))
        raise CorruptFile(label, f"Maccor header without columns for {missing}", line=header_line)
    return mapped, unmapped


def _looks_like_duration(sample: list[list[str]], position: int) -> bool:
    return any(position < len(row) and ":" in row[position] for row in sample[:5])


def _clock_factor(headers: list[str], sample: list[list[str]], position: int, decimal: str) -> float:
    """Seconds per unit of a plain-number time column, judged against the ``DPT Time`` wall clock over the
    first rows: 1 (seconds), 60 (minutes) or 3600 (hours). Seconds when there is no clock to compare."""
    clock = next((headers.index(h) for h in ("DPt Time", "DPT Time") if h in headers), None)
    if clock is None:
        return 1.0
    rows = [row for row in sample if max(clock, position) < len(row)]
    if len(rows) < 2:
        return 1.0
    first, last = rows[0], rows[-1]
    try:
        elapsed = float(last[position].replace(decimal, ".")) - float(first[position].replace(decimal, "."))
        stamps = pd.to_datetime(pd.Series([first[clock].strip(), last[clock].strip()]), format="mixed")
    except (ValueError, TypeError):
        return 1.0
    wall = (stamps.iloc[1] - stamps.iloc[0]).total_seconds()
    if elapsed <= 0 or wall <= 0:
        return 1.0
    return min((1.0, 60.0, 3600.0), key=lambda unit: abs(np.log(wall / elapsed / unit)))


def _aux_is_celsius(headers: list[str], sample: list[list[str]], position: int, decimal: str) -> bool:
    """An ``Aux #n`` column is a temperature when the ``Units`` column after it says C on the first row
    and its reading is plausible."""
    if position + 1 >= len(headers) or headers[position + 1].strip() != "Units" or not sample:
        return False
    first = sample[0]
    if position + 1 >= len(first) or first[position + 1].strip().upper() not in ("C", "°C", "DEGC"):
        return False
    try:
        value = float(first[position].strip().replace(decimal, "."))
    except ValueError:
        return False
    return _AUX_CELSIUS[0] <= value <= _AUX_CELSIUS[1]


#: Header-block labels → metadata keys (both flavours; the MIMS client writes ``Name`` and ``Started``).
_LABELS = {
    "Filename": "source_filename",
    "Procedure": "procedure",
    "Comment/Barcode": "barcode",
    "Barcode": "barcode",
    "Date of Test": "started",
    "Started": "started",
    "Tester Channel": "channel",
    "Channel": "channel",
    "Name": "test_name",
    "Description": "description",
}
_LABEL_RE = re.compile(r"(?:^|[\t ])(" + "|".join(re.escape(k) for k in _LABELS) + r"):?[\t ]", re.MULTILINE)


def _metadata(head: str, header_line: int) -> dict[str, str]:
    """What the header block says (procedure, source file name, barcode, start, channel…): each label's
    value runs to the next label or the end of its line."""
    block = "\n".join(line.strip() for line in head.splitlines()[: header_line - 1]) + "\n"
    found: dict[str, str] = {}
    matches = list(_LABEL_RE.finditer(block))
    for match, following in zip(matches, [*matches[1:], None], strict=True):
        end = following.start() if following is not None else len(block)
        value = block[match.end() : end].split("\n", 1)[0].strip(" \t:")
        key = _LABELS[match.group(1)]
        if value and key not in found:
            found[key] = value
    return found


def _finish(frame: pd.DataFrame) -> pd.DataFrame:
    state = frame.pop("_state").astype("string").str.strip().str.upper()
    amps = frame.pop("_amps").to_numpy(dtype=np.float64)
    charging = (state == "C").to_numpy(dtype=bool, na_value=False)
    discharging = (state == "D").to_numpy(dtype=bool, na_value=False)
    # State S: the record Maccor writes when the test was stopped (by the operator, a safety limit or an
    # alarm) before its procedure ended it.
    frame["instrument_stop"] = (state == "S").to_numpy(dtype=bool, na_value=False).astype(np.int64)
    # + for C, − for D whatever sign the export wrote; other states (rest, EIS…) keep the value as written.
    frame["current_ampere"] = np.where(charging, np.abs(amps), np.where(discharging, -np.abs(amps), amps))
    for helper, (charge_name, discharge_name) in (
        ("_amp_hr", _PRODUCED["_amp_hr"]),
        ("_watt_hr", _PRODUCED["_watt_hr"]),
    ):
        if helper in frame:
            counter = np.abs(frame.pop(helper).to_numpy(dtype=np.float64))
            frame[charge_name] = np.where(charging, counter, np.nan)
            frame[discharge_name] = np.where(discharging, counter, np.nan)
    if "record_index" in frame:
        frame["record_index"] = frame["record_index"].fillna(-1).astype(np.int64)
    return to_canonical(frame)


CONNECTOR = MaccorText()
