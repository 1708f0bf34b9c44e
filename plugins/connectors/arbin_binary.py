"""Arbin files that are not delimited text: the MITS Pro Excel export (``.xlsx``) and the raw results
database (``.res``). Column headers are matched with the Arbin CSV connector's rules (`connectors.arbin`), so
units, sign and reset scopes are handled exactly as for Arbin CSV: positive current charges,
``Cycle_Index`` → ``cycle_count``, ``Step_Index`` → ``step_id``, and ``Charge/Discharge_Capacity`` and
``*_Energy`` restart every cycle → the ``cycle_*`` counters.

**XLSX** (``arbin_xlsx``, MITS Pro / Data Pro "Export to Excel")

- Recognised by the zip magic ``PK\\x03\\x04`` and a sheet whose name starts with ``Channel`` in
  ``xl/workbook.xml`` (read from the zip's directory; no cell is parsed to sniff).
- The data sit in worksheets named ``Channel_<n>_<k>`` (``Channel_11_1``, ``Channel_11_2``… when a
  channel outgrew one sheet): each starts with the MITS Pro header (``Date_Time, Test_Time(s),
  Step_Time(s), Step_Index, Cycle_Index, Voltage(V), Current(A), Charge_Capacity(Ah)…``); the sheets are
  read in workbook order and concatenated, and must share one header. ``Global_Info``, ``Statistics_*``
  and chart sheets (and ``Channel*`` sheets without that header) are skipped.
- ``Date_Time`` cells are Excel dates (local lab time; text or serial numbers are accepted too).
- ``Global_Info`` (a "TEST REPORT" block: test name, instrument serial number, then a row of labels —
  ``Channel, Start DateTime, Schedule File Name, Creator, Comments, Software Version, Schedule Version,
  Item ID`` — over a row of values) feeds the metadata.
- Streamed sheet by sheet with openpyxl's read-only reader. A broken value is reported with its sheet
  row as the line.

**RES** (``arbin_res``, MITS 7 / MITS Pro results file = MS Access (Jet 4) database)

- Recognised by the Jet signature (``Standard Jet DB`` at byte 4) and the table name
  ``Channel_Normal_Table`` in the database catalogue (searched in the first MiB; ``mdb-tables`` is asked
  only when it is not found there).
- Read with mdbtools (``mdb-export``, Debian package ``mdbtools``): the CSV it writes to its stdout is
  parsed chunk by chunk with pyarrow, never held whole.
- ``Channel_Normal_Table``: ``Data_Point, Test_Time, Step_Time, DateTime, Step_Index, Cycle_Index,
  Current, Voltage, Charge_Capacity, Discharge_Capacity, Charge_Energy, Discharge_Energy,
  Internal_Resistance…`` in SI units. ``DateTime`` is an OLE automation date (float days since
  1899-12-30) in the lab's local time (checked: the first point is ``Test_Time`` after
  ``Global_Table.Start_DateTime``) → ``unix_time_second``.
- ``Global_Table`` → metadata (test name, channel, start time, schedule, creator, item id, mass…;
  ``Capacity`` → ``nominal_capacity_ah`` when non-zero). ``Test_ID``, ``Is_FC_Data``, ``dV/dt``,
  ``AC_Impedance``, ``ACI_Phase_Angle`` stay unmapped. Auxiliary channels (``Auxiliary_Table``, long
  format keyed by ``Data_Point``) are not read yet: when that table holds rows, ``Auxiliary_Table`` is
  listed in ``unmapped_columns``.
- Rows are not always stored in order: ``arbin_example.res`` holds Data_Point 1321–1760 after 1761–1800
  (a block written late). A first pass over ``Test_ID, Data_Point`` checks the order; an ordered table is
  streamed, an unordered one is sorted in memory (its selected columns only).
- The first logged point of each charge/discharge step already holds the capacity of the first interval
  (≈2.9 µAh in ``arbin_example.res``): the counters are kept as written.
- A truncated database (size not a whole number of pages, or ``mdb-export`` reporting unreadable pages)
  is a CorruptFile.
"""

from __future__ import annotations

from connectors.arbin_res import ArbinRes, MdbtoolsMissing
from connectors.arbin_xlsx import ArbinXlsx

__all__ = ["CONNECTOR_RES", "CONNECTOR_XLSX", "MdbtoolsMissing"]

CONNECTOR_XLSX = ArbinXlsx()
CONNECTOR_RES = ArbinRes()
