"""The commands that print a table: ``blc files``, ``status``, ``cells``, ``cycles``, ``fade``, ``impedance``.

``--format table`` (the default) shows a narrow set of columns with short headers, rounded, missing values
blank; ``--all`` shows every column; csv and json carry the columns below, unrounded. The printing itself
(rounding, escaping, headers) is `blc.tables`.
"""

from __future__ import annotations

import argparse
from typing import TYPE_CHECKING

from blc.cli_errors import EXIT_OK, BadInput
from blc.queries import LEDGER_COLUMNS
from blc.tables import (
    CELL_TABLE,
    CYCLE_TABLE,
    FADE_TABLE,
    as_text,
    emit,
    missing,
    narrow_cells,
    print_file_status,
    print_table,
    shorten,
)

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine

#: `blc cycles --format csv|json`: the full per-cycle metric set (docs/design.md §5 + issue 5); `--all`
#: adds the vendor summary and the bookkeeping columns.
CYCLE_COLUMNS = (
    "cycle_index",
    "charge_capacity_ah",
    "discharge_capacity_ah",
    "charge_energy_wh",
    "discharge_energy_wh",
    "coulombic_efficiency",
    "energy_efficiency",
    "voltage_max_v",
    "voltage_min_v",
    "current_max_a",
    "current_min_a",
    "voltage_charge_mean_v",
    "voltage_discharge_mean_v",
    "voltage_charge_sample_mean_v",
    "voltage_discharge_sample_mean_v",
    "cc_capacity_ah",
    "cv_capacity_ah",
    "cv_time_second",
    "temperature_min_celsius",
    "temperature_mean_celsius",
    "temperature_max_celsius",
    "internal_resistance_ohm",
    "reported_charge_capacity_ah",
    "reported_discharge_capacity_ah",
    "reported_charge_energy_wh",
    "reported_discharge_energy_wh",
    "throughput_ah",
    "throughput_wh",
    "equivalent_full_cycles",
    "test_time_start_second",
    "test_time_end_second",
    "duration_second",
    "n_points",
    "charge_current_median_a",
    "discharge_current_median_a",
    "charge_duration_second",
    "discharge_duration_second",
    "charge_end_voltage_v",
    "discharge_end_voltage_v",
    "segments",
    "gap_second",
    "cycle_class",
    "complete",
    "flags",
)
FADE_COLUMNS = (
    "cycle_index",
    "cycle_class",
    "fade_series",
    "capacity_ah",
    "discharge_capacity_ah",
    "retention",
    "discharge_energy_wh",
    "energy_retention",
    "coulombic_efficiency",
    "coulombic_inefficiency_smoothed",
    "equivalent_full_cycles",
    "complete",
)
#: `blc impedance --format table` without `--all`: column → header.
IMPEDANCE_TABLE = {
    "sweep": "sweep",
    "point": "point",
    "cycle_index": "cycle",
    "test_time_second": "time_s",
    "frequency_hertz": "freq_Hz",
    "real_impedance_ohm": "Re_ohm",
    "imaginary_impedance_ohm": "Im_ohm",
    "absolute_impedance_ohm": "|Z|_ohm",
    "phase_degree": "phase_deg",
}
#: `blc files` without `--all`, and what `--all` shows.
FILE_COLUMNS = ("file", "file_id", "cell", "format", "status", "rows", "first_seen", "updated_at", "reason")
FILE_COLUMNS_ALL = LEDGER_COLUMNS

#: `blc files` shows this much of a reason in a table (csv and json: all of it).
REASON_CHARS = 60


def cells(args: argparse.Namespace, engine: Engine) -> int:
    from blc.queries import cell_overview

    overview = cell_overview(engine)
    if args.format == "table" and not args.all:
        print_table(narrow_cells(overview), CELL_TABLE)
    else:
        emit(overview, args.format)
    return EXIT_OK


def files(args: argparse.Namespace, engine: Engine) -> int:
    from blc import queries

    ledger = queries.list_files(engine, status=args.status)
    warnings = ledger["warnings"]
    ledger = ledger[list(FILE_COLUMNS_ALL if args.all else FILE_COLUMNS)]
    if args.format == "table":
        # A file that loaded with warnings shows the first of them where a quarantined one shows its reason.
        ledger = ledger.assign(
            reason=[
                _reason_or_warning(reason, warned, REASON_CHARS)
                for reason, warned in zip(ledger["reason"], warnings, strict=True)
            ]
        )
        print_table(ledger)
    else:
        emit(ledger, args.format)
    return EXIT_OK


def status(key: str, engine: Engine) -> int:
    from blc import queries

    try:
        found = queries.file_status(engine, key)
    except queries.AmbiguousFile as exc:
        for candidate in exc.candidates:
            file_id = "" if candidate["file_id"] is None else candidate["file_id"]
            print(f"{file_id:>8}  {candidate['status']:<11}  {candidate['uri']}")
        raise BadInput(f"{exc}: give its file_id or its path (listed above)") from exc
    if found is None:
        raise BadInput(f"no file {key!r} in the ledger (see `blc files`)")
    print_file_status(found)
    return EXIT_OK


def cycles_or_fade(args: argparse.Namespace, engine: Engine) -> int:
    from blc.queries import cycle_table, fade_table

    table = (cycle_table if args.command == "cycles" else fade_table)(engine, args.cell_id)
    if table.empty:
        raise BadInput(f"no {args.command} for cell {args.cell_id!r} (see `blc cells`)")
    if args.all:
        emit(table, args.format)
        return EXIT_OK
    if args.format == "table":
        headers = CYCLE_TABLE if args.command == "cycles" else FADE_TABLE
        print_table(table[list(headers)], headers)
    else:
        emit(table[list(CYCLE_COLUMNS if args.command == "cycles" else FADE_COLUMNS)], args.format)
    return EXIT_OK


def impedance(args: argparse.Namespace, engine: Engine) -> int:
    from blc.queries import impedance_table, unknown_cells

    table = impedance_table(engine, args.cell_id)
    if table.empty:
        if unknown_cells(engine, [args.cell_id]):
            raise BadInput(f"no cell {args.cell_id!r} (see `blc cells`)")
        raise BadInput(f"cell {args.cell_id!r} has no impedance spectra (none of its files held EIS records)")
    if args.format == "table" and not args.all:
        print_table(table[list(IMPEDANCE_TABLE)], IMPEDANCE_TABLE)
    else:
        emit(table, args.format)
    return EXIT_OK


def _reason_or_warning(reason: object, warnings: object, limit: int) -> str | None:
    if not missing(reason):
        return shorten(as_text(reason), limit)
    found = [w for w in warnings if isinstance(w, str)] if isinstance(warnings, list) else []
    if not found:
        return None
    more = f" (+{len(found) - 1} more)" if len(found) > 1 else ""
    return shorten(f"warning: {as_text(found[0])}", limit - len(more)) + more
