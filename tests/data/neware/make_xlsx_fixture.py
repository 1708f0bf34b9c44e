"""Write neware_uio_record.xlsx from the real neware_uio.csv beside it, in the layout of a Neware BTSDA
Excel export: an ``Info`` sheet, a ``Cycle`` summary sheet and the records in ``Record`` sheets (split in
two, as BTSDA splits a long test), times as ``hh:mm:ss`` text, ``Date`` as Excel date cells, numbers as
numbers. Every record value is the CSV's own. Run: python make_xlsx_fixture.py
"""

import csv
import datetime as dt
from pathlib import Path

import openpyxl

HERE = Path(__file__).resolve().parent
SPLIT_AT = 5000  # rows in the first Record sheet


def value(header: str, text: str):  # type: ignore[no-untyped-def]
    if header == "Date":
        return dt.datetime.strptime(text, "%Y-%m-%d %H:%M:%S")
    if header in ("Step Type", "Time", "Cumulative Time", "Module start-stop switch") or text == "":
        return text
    return float(text) if any(c in text for c in ".eE") else int(text)


def main() -> None:
    with (HERE / "neware_uio.csv").open(newline="", encoding="utf-8") as handle:
        rows = list(csv.reader(handle))
    header, records = rows[0], rows[1:]
    book = openpyxl.Workbook()
    info = book.active
    info.title = "Info"
    info.append(["Device", "Channel", "Barcode", "Start Time"])
    info.append(["BTS85-5V6A", "6-1", "UIO-0001", "2022-05-18 16:27:52"])
    cycles = book.create_sheet("Cycle")
    cycles.append(["Cycle Index", "Chg. Cap.(Ah)", "DChg. Cap.(Ah)"])
    for sheet_name, part in (("Record", records[:SPLIT_AT]), ("Record_2", records[SPLIT_AT:])):
        sheet = book.create_sheet(sheet_name)
        sheet.append(header)
        for record in part:
            sheet.append([value(h, t) for h, t in zip(header, record, strict=True)])
    book.save(HERE / "neware_uio_record.xlsx")


if __name__ == "__main__":
    main()
