"""Neware BTS exports: the CSV "regular export" in two layouts, and the binary ``.nda`` / ``.ndax`` files.

CSV, flat layout (``neware_csv``): one header line ``DataPoint, Cycle Index, Step Index, Step Type, Time,
Cumulative Time, Current(A), Voltage(V), Capacity(Ah), …, Date, Power(W), …``, one row per record.

CSV, cycle/step/record layout (``neware_csv`` too): three header lines, one per level — ``Cycle Index,
Chg. Cap.(Ah), …`` / ``,Step Index,Step Number,Step Type, …`` / ``,,DataPoint,Time,Total Time,Current(A), …``
— and rows nested the same way: a cycle summary row (first field filled), then for each step a step
summary row (first field empty), then its records (first two fields empty). Records carry neither cycle nor
step: both are taken from the summary rows above them. Quirk: the first cycle row may carry the first step
row glued to its end (22 fields instead of 8). Summary rows are not samples and are not kept.

Both CSV layouts:

- Units come in brackets (``Current(mA)``, ``Voltage(V)``, ``DCIR(mO)``…) and are scaled to SI; ``(?)``
  is a temperature unit (``℃`` lost to a non-Unicode export) and counts as °C.
- ``Time`` is the step time and ``Cumulative Time`` / ``Total Time`` the test time, written ``hh:mm:ss``
  (hours may exceed 24); a test time in plain seconds is read too. A file without a test time gets it from
  ``Date`` minus the first ``Date``.
- ``Date`` / ``Realtime`` is the lab's local wall-clock time (→ ``unix_time_second``).
- Current is signed (discharge negative) in most versions and unsigned in some: the sign is taken from the
  ``Step Type`` words — ``… Chg`` / ``Charge`` / ``充电`` charge (+), ``… DChg`` / ``Discharge`` / ``放电``
  discharge (−); other steps (Rest, Pulse…) keep the value as written.
- ``Cycle Index`` is the instrument's cycle counter (→ ``cycle_count``), ``Step Index`` the schedule step
  (→ ``step_id``), ``Step Number`` the running step count (→ ``step_count``).
- ``Chg. Cap.``, ``DChg. Cap.``, ``Chg. Energy`` and ``DChg. Energy`` restart at every STEP (checked on
  both real files): they map to BDF's step scope (``step_charging_capacity_ah``…). The unsigned ``Capacity``
  and ``Energy`` (the only ones the cycle/step/record layout writes) are split by the step type into the
  charging or discharging step counter when the split columns are absent. Specific capacities (mAh/g),
  dQ/dV, auxiliary voltages and the CPU temperature are left unmapped (``unmapped_columns``).
- ``DCIR(O)`` (or ``DCIR(mO)``) → ``internal_resistance_ohm``. ``Contact resistance(mO)`` is the probe
  contact check, not the cell's resistance: unmapped.
- Recognised by the header: the flat layout by ``Step Type`` (or ``Step Name``) with ``Cycle Index`` /
  ``Cycle ID`` written with a space, plus current and voltage columns (Arbin writes ``Cycle_Index`` and never
  ``Step Type``); the nested layout by its three header lines starting ``Cycle Index,`` / ``,Step Index,`` /
  ``,,``.

Binary files (``neware_nda``, ``neware_ndax``), read with the NewareNDA package (BSD-3-Clause; install
``NewareNDA``), imported only when such a file is read:

- ``.nda`` starts with the bytes ``NEWARE``; ``.ndax`` is a zip archive recognised by its Neware members
  (``data.ndc``, or ``TestInfo.xml`` with ``VersionInfo.xml``) so other zip files are not claimed.
- NewareNDA gives mA and mAh/mWh as float32, discharge current negative; values are turned back into the
  decimals the instrument wrote (float32 → shortest decimal → float64), current scaled to A, and the sign
  checked against the step status like the CSV.
- Its ``Time`` is the STEP time; ``test_time_second`` is the running sum of the steps' final step times plus
  the step time (what Neware's own ``Total Time`` shows). Its capacity/energy columns restart every step:
  mapped to the step scope. The cycle counter is the file's own (NewareNDA's renumbering is switched off);
  a file that holds no counter (NewareNDA writes 0) gets none.
- Naive timestamps are lab local time; timestamps NewareNDA returns with a zone (BTS 9 files hold epoch
  times) are converted as they are.
- Metadata: NDA version, server/client versions, active mass and remarks (``.nda``); start time, procedure
  (``StepName``), channel, device, unit, barcode (``SN``) and server version (``.ndax``).
"""

from __future__ import annotations

from connectors.neware_binary import NewareNda, NewareNdax
from connectors.neware_csv import NewareCsv
from connectors.neware_xlsx import NewareXlsx

CONNECTOR_CSV = NewareCsv()
CONNECTOR_NDA = NewareNda()
CONNECTOR_NDAX = NewareNdax()
CONNECTOR_XLSX = NewareXlsx()
CONNECTOR = CONNECTOR_CSV
