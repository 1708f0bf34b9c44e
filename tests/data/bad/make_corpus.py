"""Writes the bad-input corpus: files a lab really sends (or an attacker might), each with what must become
of it. Run from the repository root: ``python tests/data/bad/make_corpus.py``; the small files are kept in
this folder, the large ones (a 2 MB field, decompression bombs, 10,000 columns) are written by
`write_large` into a test's temporary folder.

Most cases start from the first 150 rows of a real Arbin export (tests/data/arbin/arbin_example.csv,
ROVI-org/battery-data-toolkit, Apache-2.0) and break one thing. `CASES` says, per file, the status it must
end in (``quarantined``, or ``loaded`` with a warning or none) and a phrase its reason or warning must hold:
the rule broken, written from the rule, not from what the code printed.
"""

from __future__ import annotations

import gzip
import io
import json
import zipfile
from collections.abc import Callable
from pathlib import Path

HERE = Path(__file__).resolve().parent
SOURCE = HERE.parent / "arbin" / "arbin_example.csv"
MITS_PRO = HERE.parent / "arbin" / "mits_pro_bs542_channel_11.csv"
ROWS = 150

#: file name → (status, phrase in the reason or the warning; None: loaded without a warning).
CASES: dict[str, tuple[str, str | None]] = {
    # reading
    "empty.csv": ("quarantined", "empty"),
    "header_only.csv": ("quarantined", "no data rows"),
    "truncated_mid_file.csv": ("quarantined", "line 41: expected 15 fields, found 4"),
    "truncated_last_line.csv": ("loaded", "has no line end and was not loaded"),
    "binary_junk.csv": ("quarantined", "no connector recognises"),
    "nul_bytes.csv": ("quarantined", "line 31: binary bytes (NUL)"),
    "wrong_delimiter.csv": ("quarantined", "no connector recognises"),
    "utf16_bom.csv": ("loaded", None),
    "utf8_bom.csv": ("loaded", None),
    "gzip_named.csv": ("quarantined", "gzip"),
    "text_in_number.csv": ("quarantined", "line 21: column 'Voltage': value 'abc' is not a number"),
    "missing_voltage.csv": ("quarantined", "no connector recognises"),
    # volts and amperes as mV and mA, capacities still in Ah: converted column by column (a voltage left in
    # mV would be thousands of volts, outside the window)
    "mixed_units.csv": ("loaded", None),
    "not_a_workbook.xlsx": ("quarantined", "no connector recognises"),
    "workbook_without_data.xlsx": ("quarantined", "no connector recognises"),
    # values
    "nan_voltage.csv": ("quarantined", "voltage_volt must not be null — 1 row fails, first at line 12"),
    "inf_voltage.csv": ("quarantined", "voltage_volt inf V above 10 V"),
    "huge_voltage.csv": ("quarantined", "voltage_volt 1e+308 V above 10 V"),
    "millivolts_as_volts.csv": ("quarantined", "above 10 V × 1 in series"),
    "absurd_current.csv": ("quarantined", "current_ampere must be between -10000 and 10000 A"),
    "backwards_time.csv": ("quarantined", "test_time_second must be non-decreasing"),
    "negative_time.csv": ("quarantined", "test_time_second must be between 0 and 1e9 s"),
    "milliseconds_as_seconds.csv": (
        "quarantined",
        "test_time_second advances 1000 times faster than the clock",
    ),
    "duplicated_block.csv": ("quarantined", "test_time_second must be non-decreasing"),
    "cycle_huge.csv": (
        "quarantined",
        "cycle_count (the instrument's cycle counter) must be from 0 to 2147483647",
    ),
    "cycle_negative.csv": ("quarantined", "first at line 31 (value -3)"),
    "inf_counter.csv": ("loaded", "cycle_charging_capacity_ah: 1 value of inf stored as empty"),
    "coarse_clock.csv": ("loaded", "test_time_second should not repeat the row before's time"),
    "current_above_30c.csv": ("loaded", "current_ampere should stay within 30 times the nominal capacity"),
    "nan_counter.csv": ("loaded", None),
    # metadata (a sidecar beside the file)
    "project_without_letters.csv": ("quarantined", "project name '!!!' has no letters or digits"),
    "series_not_a_number.csv": ("quarantined", "cells_in_series 'abc' is not a whole number"),
    "pack_without_series.csv": ("quarantined", "above 10 V × 1 in series (default cell window"),
    "pack_with_series.csv": ("loaded", None),
    "lfp_overcharged.csv": ("quarantined", "above 4.5 V × 1 in series (LFP cell window"),
    "negative_nominal_capacity.csv": ("quarantined", "metadata: nominal_capacity_ah must be above 0"),
    "unknown_chemistry.csv": ("loaded", "metadata: chemistry should name a known family (LFP, NMC"),
    "temperature_in_kelvin.csv": ("loaded", "metadata: temperature_celsius should be from -80 to 200 degC"),
    "nominal_mah_as_ah.csv": ("loaded", "metadata: nominal_capacity_ah should be at most 2000 Ah"),
    # names and ids
    "formula_cell_id.csv": ("loaded", None),
    "sql_injection_cell_id.csv": ("loaded", None),
    "path_traversal_cell_id.csv": ("loaded", None),
    "control_characters_cell_id.csv": ("loaded", None),
    # the sign of the current
    "inverted_current.csv": ("loaded", "current sign flipped"),
}
#: Written by `write_large` at test time (too large to keep in the repository).
LARGE_CASES: dict[str, tuple[str, str | None]] = {
    # 2 MB of digits in a number column: a number beyond any float, read as inf, outside the window
    "huge_field.csv": ("quarantined", "voltage_volt inf V above 10 V × 1 in series"),
    "ten_thousand_columns.csv": ("quarantined", "line 1: 10015 columns (limit 1000"),
    "workbook_bomb.xlsx": ("quarantined", "'xl/workbook.xml' expands to"),
    "padded_sheet.xlsx": ("quarantined", "a decompression bomb"),
}
#: Sidecars written beside a case (file name → its .meta.yaml text).
SIDECARS = {
    "project_without_letters.csv": "project: '!!!'\n",
    "series_not_a_number.csv": "cells_in_series: abc\n",
    "pack_with_series.csv": "chemistry: NMC\ncells_in_series: 12S2P\n",
    "lfp_overcharged.csv": "chemistry: LFP\n",
    "current_above_30c.csv": "nominal_capacity_ah: 0.01\n",
    "negative_nominal_capacity.csv": "nominal_capacity_ah: -2\n",
    "unknown_chemistry.csv": "chemistry: unobtainium\n",
    "temperature_in_kelvin.csv": "temperature_celsius: 298.15\n",
    "nominal_mah_as_ah.csv": "nominal_capacity_ah: 2500\n",
    "formula_cell_id.csv": 'cell_id: \'=HYPERLINK("http://example.invalid/x","click")\'\n',
    "sql_injection_cell_id.csv": 'cell_id: "x\'); drop table blc.cell; --"\n',
    "path_traversal_cell_id.csv": "cell_id: ../../../etc/passwd\n",
    "control_characters_cell_id.csv": 'cell_id: "cell\\e[31mred\\u0007"\n',
}


def _base(rows: int = ROWS) -> tuple[str, list[list[str]]]:
    lines = SOURCE.read_text(encoding="utf-8").splitlines()
    return lines[0], [line.split(",") for line in lines[1 : rows + 1]]


def _csv(header: str, rows: list[list[str]], delimiter: str = ",") -> str:
    return "\n".join([header.replace(",", delimiter), *(delimiter.join(r) for r in rows)]) + "\n"


def _column(header: str, name: str) -> int:
    return header.split(",").index(name)


def _set(rows: list[list[str]], row: int, column: int, value: str) -> list[list[str]]:
    rows[row][column] = value
    return rows


def _scaled(rows: list[list[str]], column: int, factor: float) -> list[list[str]]:
    for row in rows:
        row[column] = f"{float(row[column]) * factor:.6g}"
    return rows


def _xlsx(members: dict[str, bytes]) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, data in members.items():
            archive.writestr(name, data)
    return buffer.getvalue()


_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8"?><Types xmlns="http://schemas.openxmlformats.org/package/2006/'
    b'content-types"><Default Extension="xml" ContentType="application/xml"/></Types>'
)


def _workbook(sheets: list[str], padding: bytes = b"") -> bytes:
    names = "".join(f'<sheet name="{n}" sheetId="{i + 1}" r:id="rId{i + 1}"/>' for i, n in enumerate(sheets))
    return (
        b'<?xml version="1.0" encoding="UTF-8"?><workbook xmlns="http://schemas.openxmlformats.org/'
        b'spreadsheetml/2006/main" xmlns:r="http://schemas.openxmlformats.org/officeDocument/2006/'
        b'relationships"><sheets>' + names.encode() + b"</sheets>" + padding + b"</workbook>"
    )


def _mixed_units() -> str:
    """The first 150 rows of an Arbin MITS Pro export (units in the header) with voltage in mV and current
    in mA."""
    lines = MITS_PRO.read_text(encoding="utf-8").splitlines()[: ROWS + 1]
    names = lines[0].split(",")
    volt, amp = names.index("Voltage(V)"), names.index("Current(A)")
    names[volt], names[amp] = "Voltage(mV)", "Current(mA)"
    rows = _scaled(_scaled([line.split(",") for line in lines[1:]], volt, 1000), amp, 1000)
    return _csv(",".join(names), rows)


def write_small(folder: Path) -> list[Path]:
    """The cases kept in the repository, and their sidecars."""
    header, _ = _base()
    volt, current, time, cycle = (
        _column(header, c) for c in ("Voltage", "Current", "Test_Time", "Cycle_Index")
    )
    charge = _column(header, "Charge_Capacity")
    text: dict[str, Callable[[], str | bytes]] = {
        "empty.csv": lambda: b"",
        "header_only.csv": lambda: header + "\n",
        "truncated_mid_file.csv": lambda: _csv(header, _base()[1]).replace(
            ",".join(_base()[1][39]), ",".join(_base()[1][39][:4]), 1
        ),
        "truncated_last_line.csv": lambda: _csv(header, _base()[1]).rstrip("\n")[:-30],
        "binary_junk.csv": lambda: bytes((i * 7919 + 13) % 256 for i in range(20_000)),
        "nul_bytes.csv": lambda: _csv(header, _set(_base()[1], 29, volt, "3.2\x003")),
        "wrong_delimiter.csv": lambda: _csv(header, _base()[1], ";"),
        "utf16_bom.csv": lambda: _csv(header, _base()[1]).encode("utf-16"),
        "utf8_bom.csv": lambda: b"\xef\xbb\xbf" + _csv(header, _base()[1]).encode(),
        "gzip_named.csv": lambda: gzip.compress(_csv(header, _base()[1]).encode(), mtime=0),
        "text_in_number.csv": lambda: _csv(header, _set(_base()[1], 19, volt, "abc")),
        "missing_voltage.csv": lambda: _csv(
            ",".join(c for c in header.split(",") if c != "Voltage"),
            [[v for i, v in enumerate(r) if i != volt] for r in _base()[1]],
        ),
        "not_a_workbook.xlsx": lambda: b"this is not a workbook\n" * 20,
        "mixed_units.csv": _mixed_units,
        "workbook_without_data.xlsx": lambda: _xlsx(
            {"[Content_Types].xml": _CONTENT_TYPES, "xl/workbook.xml": _workbook(["Global_Info"])}
        ),
        "nan_voltage.csv": lambda: _csv(header, _set(_base()[1], 10, volt, "NaN")),
        "inf_voltage.csv": lambda: _csv(header, _set(_base()[1], 10, volt, "inf")),
        "huge_voltage.csv": lambda: _csv(header, _set(_base()[1], 10, volt, "1e308")),
        "millivolts_as_volts.csv": lambda: _csv(header, _scaled(_base()[1], volt, 1000)),
        "absurd_current.csv": lambda: _csv(header, _set(_base()[1], 10, current, "1e6")),
        "backwards_time.csv": lambda: _csv(header, _base()[1][:60] + _base()[1][70:59:-1] + _base()[1][71:]),
        "negative_time.csv": lambda: _csv(header, _set(_base()[1], 0, time, "-5")),
        "milliseconds_as_seconds.csv": lambda: _csv(header, _scaled(_base()[1], time, 1000)),
        "duplicated_block.csv": lambda: _csv(
            header, _base()[1][:100] + _base()[1][50:100] + _base()[1][100:]
        ),
        "cycle_huge.csv": lambda: _csv(header, _set(_base()[1], 30, cycle, "99999999999")),
        "cycle_negative.csv": lambda: _csv(header, _set(_base()[1], 29, cycle, "-3")),
        "inf_counter.csv": lambda: _csv(header, _set(_base()[1], 10, charge, "inf")),
        # the test time logged in whole 10 s: half the rows repeat the time before them
        "coarse_clock.csv": lambda: _csv(
            header, [[*r[:time], f"{float(r[time]) // 10 * 10:g}", *r[time + 1 :]] for r in _base()[1]]
        ),
        "nan_counter.csv": lambda: _csv(header, _set(_base()[1], 10, charge, "NaN")),
        "pack_without_series.csv": lambda: _csv(header, _scaled(_base()[1], volt, 11.5)),
        "pack_with_series.csv": lambda: _csv(header, _scaled(_base()[1], volt, 12)),
        "lfp_overcharged.csv": lambda: _csv(header, _set(_base()[1], 10, volt, "4.9")),
        # the whole file: the sign is judged on at least two charge or discharge segments
        "inverted_current.csv": lambda: _csv(header, _scaled(_base(rows=2142)[1], current, -1)),
    }
    temperature = _column(header, "Temperature")
    written = []
    for number, name in enumerate(CASES):
        if name in text:
            content = text[name]()
        else:  # every case its own bytes: the ledger takes the same content only once, whatever its name
            rows = _base()[1]
            rows[0][temperature] += f"{number:03d}"
            content = _csv(header, rows)
        path = folder / name
        path.write_bytes(content if isinstance(content, bytes) else content.encode("utf-8"))
        written.append(path)
        if name in SIDECARS:
            (folder / f"{path.stem}.meta.yaml").write_text(SIDECARS[name], encoding="utf-8")
    return written


def write_large(folder: Path) -> list[Path]:
    """The cases too large to keep: written into `folder` for a test."""
    header, rows = _base()
    volt = _column(header, "Voltage")
    huge = _set([list(r) for r in rows], 10, volt, "1" * (2 << 20))
    (folder / "huge_field.csv").write_text(_csv(header, huge), encoding="utf-8")
    extra = [f"Aux_{i}" for i in range(10_000)]
    wide = ",".join([header, *extra]) + "\n" + "\n".join(",".join([*r, *("0" * 10_000)]) for r in rows[:20])
    (folder / "ten_thousand_columns.csv").write_text(wide + "\n", encoding="utf-8")
    bomb = _workbook(["Channel_1-006_1"], padding=b" " * (20 << 20))
    (folder / "workbook_bomb.xlsx").write_bytes(
        _xlsx({"[Content_Types].xml": _CONTENT_TYPES, "xl/workbook.xml": bomb})
    )
    sheet = (
        b'<worksheet><sheetData><row r="1"><c r="A1"><v>1</v></c></row></sheetData>'
        + b" " * (200 << 20)
        + b"</worksheet>"
    )
    (folder / "padded_sheet.xlsx").write_bytes(
        _xlsx(
            {
                "[Content_Types].xml": _CONTENT_TYPES,
                "xl/workbook.xml": _workbook(["Channel_1-006_1"]),
                "xl/worksheets/sheet1.xml": sheet,
            }
        )
    )
    return [folder / name for name in LARGE_CASES]


if __name__ == "__main__":
    for old in HERE.iterdir():
        if old.name not in ("make_corpus.py", "expected.json", "README.md"):
            old.unlink()
    write_small(HERE)
    (HERE / "expected.json").write_text(
        json.dumps(
            {name: {"status": s, "phrase": p} for name, (s, p) in {**CASES, **LARGE_CASES}.items()}, indent=1
        )
        + "\n",
        encoding="utf-8",
    )
    print(f"{len(CASES)} small cases written to {HERE}; {len(LARGE_CASES)} large ones at test time")
