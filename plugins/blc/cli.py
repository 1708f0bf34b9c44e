"""The ``blc`` command line: the same pipeline steps as the DAGs, and the ledger and results to read.

    blc db upgrade|version
    blc ingest PATH… [--cell-id ID] [--project P] [--format F] [--force]
    blc files [--status S] [--format table|csv|json] [--all]
    blc status FILE_OR_ID
    blc cells | cycles CELL_ID | fade CELL_ID  [--format table|csv|json] [--all]
    blc reprocess [CELL_ID…] [--all]
    blc export CELL_ID --to DIR [--format bdf|batteryarchive] [--parquet]
    blc redash sync|refresh
    blc demo
    blc up [--port N] | down
    blc airflow ARGS…

``blc files`` lists the ledger (every file content seen, newest first, and the unreadable entries of the
watched folders); ``blc status`` shows one file's entry (by file_id, URI, path or name), its reason, warnings
and validation findings. ``--format table`` (the default) shows a narrow set of columns with short headers,
rounded, missing values blank; ``--all`` shows every column. csv (10 significant digits, missing: an empty
field) and json (15, missing: null) are not rounded further.

Errors are one line on stderr (``blc: …``) and an exit code; ``--debug`` adds the traceback and DEBUG logs.

    0  done
    1  infrastructure: the database or Redash is unreachable, or an unexpected error
    2  bad input or configuration: an unknown cell, file or option, a quarantined file, a path that cannot
       be read, a malformed BLC_DATABASE_URL, a Redash key that Redash rejects, BLC_REDASH_URL unset for sync

``blc ingest`` tries every file it is given and exits 2 at the end if any was bad; an infrastructure error
stops it at once (exit 1).
"""

from __future__ import annotations

import argparse
import logging
import os
import re
import sys
import traceback
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from blc.queries import STATUSES
from blc.settings import Settings, get_settings

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Engine

    from blc.queries import FileStatus

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2

#: `blc cycles --format csv|json`: the full per-cycle metric set (DESIGN §5 + issue 5); `--all` adds the
#: vendor summary and the bookkeeping columns.
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
    "complete",
)
FADE_COLUMNS = (
    "cycle_index",
    "discharge_capacity_ah",
    "retention",
    "discharge_energy_wh",
    "energy_retention",
    "coulombic_efficiency",
    "coulombic_inefficiency_smoothed",
    "equivalent_full_cycles",
    "complete",
)
#: `blc files` without `--all`, and what `--all` shows.
FILE_COLUMNS = ("file", "file_id", "cell", "format", "status", "rows", "first_seen", "updated_at", "reason")
FILE_COLUMNS_ALL = (
    "file",
    "uri",
    "file_id",
    "cell",
    "format",
    "status",
    "rows",
    "first_seen",
    "loaded_at",
    "updated_at",
    "reason",
    "sha256",
    "size_bytes",
    "attempts",
    "parser_version",
    "cycle_rule",
    "warnings",
)

# The narrow tables of `--format table` without `--all`: column → header (shortened to fit ~110 characters).
CELL_TABLE = {
    "cell_id": "cell_id",
    "project": "project",
    "cycles": "cycles",
    "complete_cycles": "complete",
    "reference_capacity_ah": "ref_Ah",
    "last_retention": "retention",
    "cycles_to_80": "to_80%",
    "cycles_to_70": "to_70%",
    "equivalent_full_cycles": "EFC",
    "files": "files",
}
CYCLE_TABLE = {
    "cycle_index": "cycle",
    "charge_capacity_ah": "charge_Ah",
    "discharge_capacity_ah": "discharge_Ah",
    "coulombic_efficiency": "CE",
    "energy_efficiency": "EE",
    "voltage_max_v": "V_max",
    "voltage_min_v": "V_min",
    "duration_second": "duration_s",
    "complete": "complete",
}
FADE_TABLE = {
    "cycle_index": "cycle",
    "discharge_capacity_ah": "discharge_Ah",
    "retention": "retention",
    "discharge_energy_wh": "discharge_Wh",
    "energy_retention": "energy_ret",
    "coulombic_efficiency": "CE",
    "coulombic_inefficiency_smoothed": "CI_smoothed",
    "equivalent_full_cycles": "EFC",
    "complete": "complete",
}
#: `blc files` shows this much of a reason in a table (csv and json: all of it).
REASON_CHARS = 60
#: Columns shown as whole numbers in a table (pandas reads integer columns with nulls as float).
_INTEGER_COLUMNS = frozenset(
    {
        "cycle_index",
        "cycles",
        "complete_cycles",
        "cycles_to_80",
        "cycles_to_70",
        "projected_cycles_to_80",
        "projected_cycles_to_70",
        "knee_onset_cycle",
        "files",
        "n_points",
        "file_id",
        "rows",
        "attempts",
        "size_bytes",
        "cycle_count",
        "first_cycle_index",
        "last_cycle_index",
        "first_cycle_count",
        "last_cycle_count",
        "stitch_position",
        "cycle_offset",
    }
)
#: A path given that is not there or cannot be used: bad input (exit 2), not an infrastructure error.
_PATH_ERRORS = (FileNotFoundError, PermissionError, NotADirectoryError, IsADirectoryError, FileExistsError)
#: libpq's complaints about the connection string itself (a malformed BLC_DATABASE_URL, not a down server).
_BAD_CONNINFO = re.compile(r'^(invalid dsn|invalid \w+ value|invalid connection option|missing "=")')
_NUMBER = re.compile(r"^~?[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$")

_FORMAT_HELP = (
    "table (default: narrow, rounded, blanks for missing values), csv (10 significant digits, missing:"
    " empty) or json (15, missing: null)"
)


class _BadInput(Exception):
    """Bad input or configuration: one line, exit 2."""


class _Parser(argparse.ArgumentParser):
    def error(self, message: str) -> NoReturn:
        print(f"blc: {message} (see `{self.prog} --help`)", file=sys.stderr)
        raise SystemExit(EXIT_BAD_INPUT)


def _parser() -> argparse.ArgumentParser:
    parser = _Parser(
        prog="blc",
        description="Battery Lifecycle platform. Exit codes: 0 done, 1 infrastructure (database or Redash "
        "unreachable, unexpected error), 2 bad input or configuration.",
    )
    verbose_help, debug_help = "log progress to stderr", "on an error, the traceback too; DEBUG logs"
    parser.add_argument("-v", "--verbose", action="store_true", help=verbose_help)
    parser.add_argument("--debug", action="store_true", help=debug_help)
    # The same flags after the command (`blc files --debug`); SUPPRESS keeps the value given before it.
    common = _Parser(add_help=False)
    common.add_argument("-v", "--verbose", action="store_true", default=argparse.SUPPRESS, help=verbose_help)
    common.add_argument("--debug", action="store_true", default=argparse.SUPPRESS, help=debug_help)
    sub = parser.add_subparsers(dest="command", required=True)

    def command(name: str, help_text: str, **kwargs: Any) -> argparse.ArgumentParser:
        return sub.add_parser(name, help=help_text, parents=[common], **kwargs)

    db = command("db", "database schema")
    db.add_argument("action", choices=["upgrade", "version"])

    ingest = command(
        "ingest",
        "ingest cycler files (or every file of a folder)",
        description="Ingest cycler files. Every file is tried; a bad one (quarantined, unreadable) is "
        "reported on stderr and the exit code is 2 at the end.",
    )
    ingest.add_argument("paths", nargs="+", type=Path)
    ingest.add_argument("--cell-id")
    ingest.add_argument("--project")
    ingest.add_argument("--format", dest="format_name", help="skip detection: use this connector")
    ingest.add_argument("--force", action="store_true", help="ingest again even if the content is known")

    files = command(
        "files",
        "the ledger: every file seen, its status and why",
        description="One row per file content in the ledger, newest first (the row changed last), and "
        "the entries of the watched folders that could not be read (status unreadable). Times in UTC. "
        "The table shows the first "
        f"{REASON_CHARS} characters of a reason; csv and json all of it.",
    )
    files.add_argument("--status", choices=STATUSES, metavar="STATUS", help=f"only: {', '.join(STATUSES)}")
    files.add_argument("--format", choices=["table", "csv", "json"], default="table", help=_FORMAT_HELP)
    files.add_argument(
        "--all",
        action="store_true",
        help="also uri, loaded_at, sha256, size_bytes, attempts, parser_version, cycle_rule, warnings",
    )

    status = command(
        "status",
        "one file's ledger entry, its reason, warnings and validation findings",
        description="One file's ledger entry. FILE_OR_ID: a file_id, a URI, a path (as given to "
        "`blc ingest`) or a file name. Exit 0 when found (whatever its status), 2 when not or when "
        "several files share the name (they are listed).",
    )
    status.add_argument("file", metavar="FILE_OR_ID")

    cells = command(
        "cells",
        "cells and their summaries",
        description="Cells and their summaries. The table: ref_Ah = reference_capacity_ah, retention = "
        "last_retention, to_80%/to_70% = cycles_to_80/70 (~N: projected, not reached yet), EFC = "
        "equivalent_full_cycles, files = files loaded.",
    )
    cells.add_argument("--format", choices=["table", "csv", "json"], default="table", help=_FORMAT_HELP)
    cells.add_argument("--all", action="store_true", help="every column in the table too")

    abbreviations = {
        "cycles": "The table: CE/EE = coulombic/energy efficiency, V_max/V_min = voltage_max_v/min_v, "
        "duration_s = duration_second. csv and json without --all: the full per-cycle metric set.",
        "fade": "The table: energy_ret = energy_retention, CE = coulombic_efficiency, CI_smoothed = "
        "coulombic_inefficiency_smoothed, EFC = equivalent_full_cycles.",
    }
    for name, help_text in (("cycles", "per-cycle statistics"), ("fade", "capacity fade")):
        table = command(
            name, help_text, description=f"{help_text.capitalize()} of a cell. {abbreviations[name]}"
        )
        table.add_argument("cell_id")
        table.add_argument("--format", choices=["table", "csv", "json"], default="table", help=_FORMAT_HELP)
        table.add_argument("--all", action="store_true", help="every column, not only the usual ones")

    reprocess = command(
        "reprocess", "recompute statistics and fade from stored samples (no raw file is read)"
    )
    reprocess.add_argument("cell_ids", nargs="*", metavar="CELL_ID")
    reprocess.add_argument(
        "--all", action="store_true", help="every cell, recomputed from its samples whatever its version"
    )

    export = command("export", "a cell as BDF or batteryarchive.org files")
    export.add_argument("cell_id")
    export.add_argument("--to", dest="directory", type=Path, required=True, help="folder to write into")
    export.add_argument("--format", choices=["bdf", "batteryarchive"], default="bdf")
    export.add_argument("--parquet", action="store_true", help="BDF as Parquet instead of CSV")

    redash = command("redash", "Redash queries as code")
    redash.add_argument("action", choices=["sync", "refresh"])

    command("demo", "run the whole chain over the bundled sample files")
    up = command("up", "Airflow standalone watching the drop folders (what `make up` runs); Ctrl+C stops it")
    up.add_argument("--port", type=int, help="the UI's port (default 8080, or AIRFLOW__API__PORT)")
    command("down", "stop what `blc up` / `make up` started")
    airflow = sub.add_parser("airflow", help="the Airflow CLI with this project's AIRFLOW_HOME and folders")
    airflow.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["airflow"]:  # pass everything through untouched, --help included
        from blc.airflow_env import run_airflow

        return run_airflow(argv[1:])
    try:
        args = _parser().parse_args(argv)
    except SystemExit as exc:  # --help (0), or a bad option (2, one line printed by _Parser.error)
        return exc.code if isinstance(exc.code, int) else EXIT_BAD_INPUT
    debug = bool(args.debug)
    logging.basicConfig(
        level=logging.DEBUG if debug else logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        if args.command == "ingest":
            from blc import validation

            # Great Expectations takes seconds to import: start it first, so that it overlaps everything
            # else (our own imports, the database set-up, parsing). pandas is not imported before this on
            # purpose.
            validation.warm_up(validation.CANONICAL_SUITE, expectations_dir=_settings().expectations_dir)
        return _dispatch(args)
    except BrokenPipeError:  # `blc files | head`
        _quiet_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        _say("interrupted")
        return 130
    except Exception as exc:
        code, message = _explain(exc)
        if debug:
            traceback.print_exception(exc, file=sys.stderr)
        _say(message)
        return code


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from blc.demo import run_demo

        return run_demo()
    if args.command in ("up", "down"):
        from blc import standalone

        return standalone.run_up(port=args.port) if args.command == "up" else standalone.run_down()

    settings = _settings()
    if args.command == "redash":
        return _redash(args, settings)
    engine = _engine(settings)
    if args.command == "db":
        from blc import db

        version = db.current_version(engine)
        print(f"schema blc at version {version}")
        return EXIT_OK
    if args.command == "ingest":
        return _ingest(args)
    if args.command == "reprocess":
        return _reprocess(args, engine)
    if args.command == "files":
        return _files(args, engine)
    if args.command == "status":
        return _status(args.file, engine)
    if args.command == "cells":
        from blc.queries import cell_overview

        overview = cell_overview(engine)
        if args.format == "table" and not args.all:
            _print_table(_narrow_cells(overview), CELL_TABLE)
        else:
            _emit(overview, args.format)
        return EXIT_OK
    if args.command in ("cycles", "fade"):
        return _cycles_or_fade(args, engine)
    if args.command == "export":
        from blc.export import ExportError, export_cell

        fmt = "bdf-parquet" if args.format == "bdf" and args.parquet else args.format
        try:
            written = export_cell(engine, args.cell_id, args.directory, fmt)
        except ExportError as exc:
            raise _BadInput(str(exc)) from exc
        for path in written:
            print(path)
        return EXIT_OK
    raise AssertionError(args.command)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # a BLC_* number that is not one
        raise _BadInput(f"a BLC_* setting is not valid: {exc}") from exc


def _engine(settings: Settings) -> Engine:
    """The database, migrated. A malformed BLC_DATABASE_URL is bad configuration (exit 2); a database that
    does not answer is found on the first query (exit 1, see _explain)."""
    from sqlalchemy.exc import ArgumentError

    from blc import db

    url = db.resolve_url(settings)
    try:
        db.get_engine(url)
    except (ValueError, ArgumentError) as exc:
        raise _BadInput(
            f"BLC_DATABASE_URL is not a valid postgresql:// URL ({_redact_url(settings.database_url or url)})"
        ) from exc
    return db.engine_for(settings)


# --- ingest ---------------------------------------------------------------------------------------------


def _expand(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The files to ingest (a folder's, recursively, without the ignored names) and the problems met: a
    path that does not exist or cannot be read, as `<path>: <reason>`."""
    from connectors.share import is_ignored

    files: list[Path] = []
    problems: list[str] = []

    def walk_error(exc: OSError) -> None:
        problems.append(f"{exc.filename}: {_os_reason(exc)}")

    for path in paths:
        try:
            if path.is_dir():
                for folder, subfolders, names in os.walk(path, onerror=walk_error):
                    subfolders.sort()
                    for name in sorted(names):
                        if is_ignored(name):
                            continue
                        found = Path(folder) / name
                        if found.is_file():
                            files.append(found)
                        else:  # a FIFO, a socket, a symbolic link to nothing
                            problems.append(f"{found}: not a regular file")
            elif path.is_file():
                files.append(path)
            elif path.exists():
                problems.append(f"{path}: not a regular file")
            else:
                problems.append(f"{path}: no such file or folder")
        except OSError as exc:  # e.g. no permission on a folder on the way
            problems.append(f"{path}: {_os_reason(exc)}")
    return files, problems


def _ingest(args: argparse.Namespace) -> int:
    """Every file is tried. Quarantined content (new or seen before) and a file that cannot be read make
    the exit code 2, at the end; an infrastructure error propagates at once (exit 1)."""
    from blc import ingest
    from blc.errors import ConnectorError

    if args.project is not None:
        try:
            ingest.project_name(args.project)
        except ValueError as exc:
            raise _BadInput(f"--project: {exc}") from exc
    files, problems = _expand(args.paths)
    for problem in problems:
        _say(problem)
    status = EXIT_BAD_INPUT if problems else EXIT_OK
    for path in files:
        try:
            outcome, processed = ingest.ingest(
                path.resolve().as_uri(),
                cell_id=args.cell_id,
                project=args.project,
                format_name=args.format_name,
                force=args.force,
            )
        except (ValueError, ConnectorError, OSError) as exc:
            if isinstance(exc, ConnectionError):  # a network error: infrastructure, not this file
                raise
            # This file only (no permission, a project name in its metadata that is not one, …).
            _say(f"{path}: {_os_reason(exc) if isinstance(exc, OSError) else exc}")
            status = EXIT_BAD_INPUT
            continue
        if outcome.status == "quarantined":
            print(f"quarantined {outcome.reason}", file=sys.stderr)
            status = EXIT_BAD_INPUT
        elif outcome.status == "skipped":
            print(f"skipped {outcome.file_label}: {outcome.reason}")
        else:
            cycles = next((p.cycles for p in processed if p.cell_id == outcome.cell_id), 0)
            print(
                f"loaded {outcome.file_label} → cell {outcome.cell_id}: {outcome.rows} rows, {cycles} cycles "
                f"({outcome.format}, cycles by {outcome.cycle_rule}) in {outcome.seconds:.2f}s"
            )
    return status


def _os_reason(exc: OSError) -> str:
    return (exc.strerror or str(exc) or type(exc).__name__).lower()


def _reprocess(args: argparse.Namespace, engine: Engine) -> int:
    """Named cells (recomputed), every cell (`--all`, recomputed), or by default the cells whose statistics
    are not of this processor version."""
    from blc import process, queries

    if args.all and args.cell_ids:
        raise _BadInput("give cell ids or --all, not both")
    unknown = queries.unknown_cells(engine, args.cell_ids)
    if unknown:
        raise _BadInput(f"no cell {unknown[0]!r} (see `blc cells`)")
    cells = args.cell_ids or queries.cells_to_reprocess(engine, every=args.all)
    if not cells:
        print(f"every cell is at processor version {process.PROCESSOR_VERSION}: nothing to do")
    for cell in cells:
        outcome = process.process_cell(cell, recompute=bool(args.all or args.cell_ids))
        print(
            f"reprocessed {cell}: {outcome.cycles} cycles ({outcome.complete_cycles} complete), "
            f"processor {outcome.processor_version}, in {outcome.seconds:.2f}s"
        )
    return EXIT_OK


# --- the ledger -----------------------------------------------------------------------------------------


def _files(args: argparse.Namespace, engine: Engine) -> int:
    from blc import queries

    ledger = queries.list_files(engine, status=args.status)
    ledger = ledger[list(FILE_COLUMNS_ALL if args.all else FILE_COLUMNS)]
    if args.format == "table":
        ledger = ledger.assign(
            reason=[
                None if _missing(reason) else _shorten(_text(reason), REASON_CHARS)
                for reason in ledger["reason"]
            ]
        )
        _print_table(ledger)
    else:
        _emit(ledger, args.format)
    return EXIT_OK


def _status(key: str, engine: Engine) -> int:
    from blc import queries

    try:
        found = queries.file_status(engine, key)
    except queries.AmbiguousFile as exc:
        for candidate in exc.candidates:
            file_id = "" if candidate["file_id"] is None else candidate["file_id"]
            print(f"{file_id:>8}  {candidate['status']:<11}  {candidate['uri']}")
        raise _BadInput(f"{exc}: give its file_id or its path (listed above)") from exc
    if found is None:
        raise _BadInput(f"no file {key!r} in the ledger (see `blc files`)")
    _print_status(found)
    return EXIT_OK


def _print_status(found: FileStatus) -> None:
    entry = found.entry
    unreadable = entry["file_id"] is None
    lines: list[tuple[str, Any]] = [
        ("file", entry["file"]),
        ("uri", entry["uri"]),
        ("file_id", entry["file_id"]),
        ("status", entry["status"]),
    ]
    if not unreadable:
        lines += [
            ("cell", entry["cell"]),
            ("format", entry["format"]),
            ("rows", entry["rows"]),
            ("cycles", found.cycles),
            ("attempts", entry["attempts"]),
        ]
    lines += [("first_seen", _utc(entry["first_seen"]))]
    if unreadable:
        lines += [("last_seen", _utc(entry["updated_at"]))]
    else:
        lines += [("loaded_at", _utc(entry["loaded_at"])), ("updated_at", _utc(entry["updated_at"]))]
    lines += [("reason", entry["reason"])]
    for key, value in lines:
        _print_field(key, "" if value is None else value)
    if not unreadable:
        warnings = entry["warnings"] or []
        _print_field("warnings", "" if warnings else "none")
        for warning in warnings:
            print(f"  - {_text(warning)}")
        _print_validation(found.validation)
    if found.other_versions:
        versions = ", ".join(f"file {v['file_id']} ({v['status']})" for v in found.other_versions)
        _print_field("other_versions", versions)


def _print_validation(validation: Mapping[str, Any] | None) -> None:
    if validation is None:
        _print_field("validation", "none")
        return
    outcome = "passed" if validation["success"] else "failed"
    evaluated = validation.get("evaluated")
    counted = f", {evaluated} expectations" if evaluated is not None else ""
    _print_field(
        "validation",
        f"{outcome} ({validation['stage']}, suite {validation['suite']}{counted})"
        f" at {_utc(validation['at'])}",
    )
    for finding in validation["findings"]:
        rule, line, column = finding["rule"], finding["line"], finding["column"]
        text = f"{column}: {rule}" if column and column not in rule else rule
        details = []
        if finding.get("unexpected_count"):
            details.append(f"{finding['unexpected_count']} rows")
        if line is not None and f"line {line}" not in text:
            details.append(f"line {line}")
        print(f"  - {_text(text)}" + (f" ({', '.join(details)})" if details else ""))
    if validation["more_findings"]:
        print(f"  - … and {validation['more_findings']} more")


def _print_field(key: str, value: Any) -> None:
    print(f"{key + ':':<15} {_text(value)}".rstrip())


def _utc(value: Any) -> str:
    if value is None or _missing(value):
        return ""
    return f"{_timestamp(value)} UTC"


# --- cells, cycles, fade --------------------------------------------------------------------------------


def _cycles_or_fade(args: argparse.Namespace, engine: Engine) -> int:
    from blc.queries import cycle_table, fade_table

    table = (cycle_table if args.command == "cycles" else fade_table)(engine, args.cell_id)
    if table.empty:
        raise _BadInput(f"no {args.command} for cell {args.cell_id!r} (see `blc cells`)")
    if args.all:
        _emit(table, args.format)
        return EXIT_OK
    if args.format == "table":
        headers = CYCLE_TABLE if args.command == "cycles" else FADE_TABLE
        _print_table(table[list(headers)], headers)
    else:
        _emit(table[list(CYCLE_COLUMNS if args.command == "cycles" else FADE_COLUMNS)], args.format)
    return EXIT_OK


def _narrow_cells(overview: pd.DataFrame) -> pd.DataFrame:
    """The cells table's columns; cycles to 80/70 % show the projection as `~N` while not reached."""
    narrow = overview[list(CELL_TABLE)].copy()
    for threshold in (80, 70):
        reached, projected = overview[f"cycles_to_{threshold}"], overview[f"projected_cycles_to_{threshold}"]
        narrow[f"cycles_to_{threshold}"] = [
            str(int(r)) if not _missing(r) else f"~{int(p)}" if not _missing(p) else ""
            for r, p in zip(reached, projected, strict=True)
        ]
    return narrow


# --- output ---------------------------------------------------------------------------------------------


def _emit(table: pd.DataFrame, fmt: str) -> None:
    """csv (missing values: empty fields) or json (null), full precision; or a table."""
    if fmt == "table":
        _print_table(table)
        return
    table = table.copy()
    for column in table.columns:
        values = table[column]
        if str(values.dtype).startswith("datetime64"):
            table[column] = [None if _missing(v) else _iso(v) for v in values]
        elif fmt == "csv" and values.dtype == object and any(isinstance(v, list) for v in values):
            table[column] = ["; ".join(map(str, v)) if isinstance(v, list) else v for v in values]
    if fmt == "csv":
        table.to_csv(sys.stdout, index=False, float_format="%.10g")
    else:
        sys.stdout.write(table.to_json(orient="records", double_precision=15) + "\n")


def _print_table(table: pd.DataFrame, headers: Mapping[str, str] | None = None) -> None:
    """Columns padded to their widest value, numbers right-aligned and rounded, missing values blank."""
    if table.empty:
        print("(none)")
        return
    columns = [str(c) for c in table.columns]
    texts = [[_format(column, value) for value in table[column].tolist()] for column in columns]
    titles = [(headers or {}).get(column, column) for column in columns]
    numeric = [all(_NUMBER.match(t) for t in values if t) and any(values) for values in texts]
    widths = [max(len(title), *(len(t) for t in values)) for title, values in zip(titles, texts, strict=True)]

    def line(cells: list[str]) -> str:
        padded = (
            cell.rjust(width) if right else cell.ljust(width)
            for cell, width, right in zip(cells, widths, numeric, strict=True)
        )
        return "  ".join(padded).rstrip()

    print(line(titles))
    for row in zip(*texts, strict=True):
        print(line(list(row)))


def _format(column: str, value: Any) -> str:
    """One value as a table shows it."""
    if isinstance(value, list):
        return _text("; ".join(map(str, value)))
    if value is None or _missing(value):
        return ""
    import numpy as np

    if isinstance(value, bool | np.bool_):
        return "yes" if value else "no"
    if isinstance(value, datetime):  # pandas' Timestamp too
        return _timestamp(value)
    if isinstance(value, int | np.integer):
        return str(int(value))
    if isinstance(value, float | np.floating):
        return _number(column, float(value))
    return _text(value)


def _number(column: str, value: float) -> str:
    if column in _INTEGER_COLUMNS and value.is_integer():
        return str(int(value))
    if "inefficiency" in column or column.endswith(("_ohm", "fade_per_100_cycles")):
        return _significant(value, 4)
    if "retention" in column or "efficiency" in column or column.endswith("_v"):
        return f"{value:.4f}"
    if column.endswith("_second"):
        return f"{value:.1f}"
    if column.endswith("_celsius") or column == "equivalent_full_cycles":
        return f"{value:.2f}"
    return _significant(value, 6)


def _significant(value: float, digits: int) -> str:
    import numpy as np

    text = np.format_float_positional(value, precision=digits, unique=False, fractional=False, trim="k")
    return str(text).rstrip(".")


def _missing(value: Any) -> bool:
    try:
        return bool(value is None or value != value or str(value) in ("<NA>", "NaT"))  # NaN, pd.NA, NaT
    except (TypeError, ValueError):  # pd.NA refuses comparisons in a boolean context
        return True


def _timestamp(value: datetime) -> str:
    """`YYYY-MM-DD HH:MM:SS` in UTC (a naive time is taken as UTC)."""
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%d %H:%M:%S")


def _iso(value: datetime) -> str:
    if value.tzinfo is not None:
        value = value.astimezone(UTC)
    return value.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _text(value: Any) -> str:
    return " ".join(str(value).split())


def _shorten(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


# --- Redash ---------------------------------------------------------------------------------------------


def _redash(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "sync":
        return _redash_sync(settings)
    if settings.redash_url and not settings.redash_api_key:
        raise _BadInput("BLC_REDASH_URL is set but BLC_REDASH_API_KEY is not: set both to refresh")
    from blc.process import PUBLISHED_TABLES
    from blc.redash import refresh_dashboards

    outcomes = refresh_dashboards(set(PUBLISHED_TABLES), settings=settings)
    for outcome in outcomes:
        print(
            f"{outcome['name']}: {outcome['status']}" + (f" ({outcome['error']})" if outcome["error"] else "")
        )
    if not settings.redash_url:
        print("BLC_REDASH_URL is not set: nothing refreshed")
    unfinished = [o for o in outcomes if o["status"] != "finished"]
    if unfinished:
        _say(f"{len(unfinished)} of {len(outcomes)} Redash queries did not refresh (listed above)")
        return EXIT_ERROR
    return EXIT_OK


def _redash_sync(settings: Settings) -> int:
    from blc.redash import RedashClient, load_query_specs, sync_queries

    if not settings.redash_url or not settings.redash_api_key:
        raise _BadInput("set BLC_REDASH_URL and BLC_REDASH_API_KEY to sync the queries")
    with RedashClient(settings.redash_url, settings.redash_api_key) as client:
        source_id = settings.redash_data_source_id
        if source_id is None:
            sources = client.list_data_sources()
            if len(sources) != 1:
                raise _BadInput(
                    f"{len(sources)} Redash data sources: set BLC_REDASH_DATA_SOURCE_ID to choose one"
                )
            source_id = int(sources[0]["id"])
        ids = sync_queries(client, load_query_specs(settings.redash_dir / "queries"), source_id)
    for slug, query_id in ids.items():
        print(f"{slug}: query {query_id}")
    return EXIT_OK


# --- errors ---------------------------------------------------------------------------------------------


def _explain(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message for an exception that reached main()."""
    import requests
    import sqlalchemy.exc

    from blc.errors import ConfigurationError
    from blc.redash import RedashError, RedashSpecError

    if isinstance(exc, _BadInput | ConfigurationError):
        return EXIT_BAD_INPUT, str(exc)
    driver: BaseException = exc
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.orig is not None:
        driver = exc.orig
    if _is_psycopg2_error(driver, "Error") and _BAD_CONNINFO.match(_first_line(driver)):
        return EXIT_BAD_INPUT, f"BLC_DATABASE_URL is not valid ({_first_line(driver)})"
    if _is_psycopg2_error(driver, "OperationalError"):
        first = _first_line(driver)
        code = getattr(driver, "pgcode", None)
        if code and not str(code).startswith(("08", "28", "3D", "53", "57P")):  # not about connecting
            return EXIT_ERROR, f"database error: {first}"
        return EXIT_ERROR, f"database unreachable at {_database_location()} ({first}); check BLC_DATABASE_URL"
    if isinstance(exc, RedashSpecError):
        return EXIT_BAD_INPUT, f"Redash query files: {exc}"
    if isinstance(exc, RedashError) and exc.status_code is not None:
        if 400 <= exc.status_code < 500:  # a wrong or missing key answers 404
            return EXIT_BAD_INPUT, f"Redash refused the request: {exc}"
        return EXIT_ERROR, f"Redash failed: {exc}"
    network = exc.__cause__ if isinstance(exc, RedashError) else exc
    if isinstance(network, requests.RequestException):
        where = get_settings().redash_url or "BLC_REDASH_URL"
        return EXIT_ERROR, f"Redash unreachable at {where} ({_network_reason(network)}); check BLC_REDASH_URL"
    if isinstance(exc, RedashError):
        return EXIT_ERROR, f"Redash: {exc}"
    if isinstance(exc, _PATH_ERRORS):  # e.g. `blc export --to` a folder that cannot be written
        return EXIT_BAD_INPUT, f"{exc.filename or 'a path'}: {_os_reason(exc)}"
    return EXIT_ERROR, f"unexpected error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"


def _is_psycopg2_error(exc: BaseException, name: str) -> bool:
    module = sys.modules.get("psycopg2")
    cls = getattr(module, name, None) if module is not None else None
    return isinstance(cls, type) and isinstance(exc, cls)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _database_location() -> str:
    """host:port/database of BLC_DATABASE_URL (never its password), or the embedded server's folder."""
    from sqlalchemy.engine import make_url

    raw = os.environ.get("BLC_DATABASE_URL")
    if not raw:
        return f"the embedded Postgres in {_settings().embedded_pgdata}"
    try:
        url = make_url(raw)
    except Exception:
        return "BLC_DATABASE_URL"
    host = url.host or url.query.get("host") or "localhost"
    return f"{host}:{url.port or 5432}/{url.database or ''}"


def _network_reason(exc: BaseException) -> str:
    text = str(exc)
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno:
        return errno.group(1).strip().lower()
    if "timed out" in text.lower():
        return "timed out"
    return _first_line(exc)


def _redact_url(url: str) -> str:
    """A URL with its password replaced by ***."""
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


def _secrets() -> list[str]:
    """Values never to print: the database password and the Redash API key."""
    from urllib.parse import unquote, urlsplit

    found = []
    try:
        password = urlsplit(os.environ.get("BLC_DATABASE_URL", "")).password
    except ValueError:
        password = None
    if password:
        found += [password, unquote(password)]
    key = os.environ.get("BLC_REDASH_API_KEY")
    if key:
        found.append(key)
    return [value for value in found if len(value) >= 3]


def _say(message: str) -> None:
    """One line on stderr, `blc: …`, with no secret in it."""
    text = _redact_url(_text(message))
    for secret in _secrets():
        text = text.replace(secret, "***")
    print(f"blc: {text}", file=sys.stderr)


def _quiet_stdout() -> None:
    """After a broken pipe, stop Python from reporting it again when it flushes stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())


if __name__ == "__main__":
    raise SystemExit(main())
