"""The ``blc`` command line: the same pipeline steps as the DAGs, and the ledger and results to read.

    blc db upgrade|version
    blc ingest PATH… [--cell-id ID] [--project P] [--format F] [--force]
    blc files [--status S] [--format table|csv|json] [--all]
    blc status FILE_OR_ID
    blc cells | cycles CELL_ID | fade CELL_ID  [--format table|csv|json] [--all]
    blc impedance CELL_ID [--format table|csv|json] [--all]
    blc reprocess [CELL_ID…] [--all] [--project NAME] [--since DATE]
    blc export CELL_ID --to DIR [--format bdf|batteryarchive] [--parquet]
    blc redash sync|refresh
    blc project add NAME | grant NAME ROLE | list
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
import sys
import traceback
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, NoReturn

from blc import cli_tables
from blc.cli_errors import (
    EXIT_BAD_INPUT,
    EXIT_ERROR,
    EXIT_OK,
    BadInput,
    explain,
    os_reason,
    quiet_stdout,
    redact_url,
    say,
)
from blc.queries import STATUSES
from blc.settings import Settings, get_settings
from blc.tables import printable

if TYPE_CHECKING:
    from sqlalchemy.engine import Engine


_FORMAT_HELP = (
    "table (default: narrow, rounded, blanks for missing values), csv (10 significant digits, missing:"
    " empty) or json (15, missing: null)"
)


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
    ingest.add_argument(
        "paths", nargs="+", metavar="PATH", help="files, folders, s3://bucket/key or s3://bucket/prefix/"
    )
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
        f"{cli_tables.REASON_CHARS} characters of a reason; csv and json all of it.",
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

    impedance = command(
        "impedance",
        "impedance spectra (EIS) of a cell",
        description="Impedance spectra of a cell, one row per point: the sweeps numbered through the cell, "
        "the cycle each was measured in or after, test time, frequency, Re(Z), Im(Z) (negative: "
        "capacitive), |Z| and phase (arg Z). The table: time_s = test_time_second, Im_ohm = "
        "imaginary_impedance_ohm; csv and json: every column (file, file_sweep, DC current and voltage …).",
    )
    impedance.add_argument("cell_id")
    impedance.add_argument("--format", choices=["table", "csv", "json"], default="table", help=_FORMAT_HELP)
    impedance.add_argument("--all", action="store_true", help="every column in the table too")

    reprocess = command(
        "reprocess", "recompute statistics and fade from stored samples (no raw file is read)"
    )
    reprocess.add_argument("cell_ids", nargs="*", metavar="CELL_ID")
    reprocess.add_argument(
        "--all", action="store_true", help="every cell, recomputed from its samples whatever its version"
    )
    reprocess.add_argument("--project", help="the cells of this project (recomputed whatever their version)")
    reprocess.add_argument(
        "--since", metavar="DATE", help="the cells with a file loaded at or after DATE (e.g. 2026-11-30)"
    )

    export = command("export", "a cell as BDF or batteryarchive.org files")
    export.add_argument("cell_id")
    export.add_argument("--to", dest="directory", type=Path, required=True, help="folder to write into")
    export.add_argument("--format", choices=["bdf", "batteryarchive"], default="bdf")
    export.add_argument("--parquet", action="store_true", help="BDF as Parquet instead of CSV")

    redash = command("redash", "Redash queries as code")
    redash.add_argument("action", choices=["sync", "refresh"])

    project = command("project", "projects and the database roles that may read them")
    project_actions = project.add_subparsers(dest="action", required=True)
    project_add = project_actions.add_parser("add", help="make a project and its read-only role")
    project_add.add_argument("name")
    project_grant = project_actions.add_parser("grant", help="let an existing database role read a project")
    project_grant.add_argument("name")
    project_grant.add_argument("role")
    project_actions.add_parser("list", help="projects, their cells, files, role and its members")

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
        quiet_stdout()
        return EXIT_OK
    except KeyboardInterrupt:
        say("interrupted")
        return 130
    except Exception as exc:
        code, message = explain(exc)
        if debug:
            traceback.print_exception(exc, file=sys.stderr)
        say(message)
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
    if args.command == "project":
        return _project(args, engine)
    if args.command == "files":
        return cli_tables.files(args, engine)
    if args.command == "status":
        return cli_tables.status(args.file, engine)
    if args.command == "cells":
        return cli_tables.cells(args, engine)
    if args.command in ("cycles", "fade"):
        return cli_tables.cycles_or_fade(args, engine)
    if args.command == "impedance":
        return cli_tables.impedance(args, engine)
    if args.command == "export":
        from blc.export import ExportError, export_cell

        fmt = "bdf-parquet" if args.format == "bdf" and args.parquet else args.format
        try:
            written = export_cell(engine, args.cell_id, args.directory, fmt)
        except ExportError as exc:
            raise BadInput(str(exc)) from exc
        for path in written:
            print(path)
        return EXIT_OK
    raise AssertionError(args.command)


def _settings() -> Settings:
    try:
        return get_settings()
    except ValueError as exc:  # a BLC_* number that is not one
        raise BadInput(f"a BLC_* setting is not valid: {exc}") from exc


def _engine(settings: Settings) -> Engine:
    """The database, migrated. A malformed BLC_DATABASE_URL is bad configuration (exit 2); a database that
    does not answer is found on the first query (exit 1, see explain)."""
    from sqlalchemy.exc import ArgumentError

    from blc import db

    url = db.resolve_url(settings)
    try:
        db.get_engine(url)
    except (ValueError, ArgumentError) as exc:
        raise BadInput(
            f"BLC_DATABASE_URL is not a valid postgresql:// URL ({redact_url(settings.database_url or url)})"
        ) from exc
    return db.engine_for(settings, migrate=True)  # a person at a terminal: upgrade (tasks only check)


# --- ingest ---------------------------------------------------------------------------------------------


def _expand(paths: list[str]) -> tuple[list[tuple[str, str]], list[str]]:
    """The files to ingest, as (URI, how to name it), and the problems met (`<path>: <reason>`): a folder's
    files recursively, an S3 prefix's objects (``s3://bucket/prefix/``), without the ignored names; a path
    that does not exist or cannot be read is a problem."""
    from connectors.share import is_ignored

    files: list[tuple[str, str]] = []
    problems: list[str] = []

    def walk_error(exc: OSError) -> None:
        problems.append(f"{exc.filename}: {os_reason(exc)}")

    def add(found: Path) -> None:
        files.append((found.resolve().as_uri(), str(found)))

    for given in paths:
        if given.startswith("s3://"):
            files.extend(_expand_s3(given, problems))
            continue
        path = Path(given)
        try:
            if path.is_dir():
                for folder, subfolders, names in os.walk(path, onerror=walk_error):
                    subfolders.sort()
                    for name in sorted(names):
                        if is_ignored(name):
                            continue
                        found = Path(folder) / name
                        if found.is_file():
                            add(found)
                        else:  # a FIFO, a socket, a symbolic link to nothing
                            problems.append(f"{found}: not a regular file")
            elif path.is_file():
                add(path)
            elif path.exists():
                problems.append(f"{path}: not a regular file")
            else:
                problems.append(f"{path}: no such file or folder")
        except OSError as exc:  # e.g. no permission on a folder on the way
            problems.append(f"{path}: {os_reason(exc)}")
    return files, problems


def _expand_s3(given: str, problems: list[str]) -> list[tuple[str, str]]:
    """One object, or every object under a prefix (a URI ending with ``/``, or a bucket alone)."""
    from blc import s3
    from connectors.share import is_ignored

    try:
        uri = s3.S3Uri.parse(given)
    except ValueError as exc:
        problems.append(str(exc))
        return []
    if uri.key and not uri.key.endswith("/"):
        return [(str(uri), str(uri))]
    found = [
        (str(item.uri), str(item.uri))
        for item in s3.list_objects(s3.client(_settings().s3_conn_id), uri)
        if item.size_bytes > 0 and not item.uri.key.endswith("/") and not is_ignored(item.uri.name)
    ]
    if not found:
        problems.append(f"{given}: no objects under this prefix")
    return found


def _ingest(args: argparse.Namespace) -> int:
    """Every file is tried. Quarantined content (new or seen before) and a file that cannot be read make
    the exit code 2, at the end; a cell whose processing failed makes it 1, at the end; an infrastructure
    error propagates at once (exit 1)."""
    from blc import ingest
    from blc.errors import ConnectorError, describe_exception, is_infrastructure

    if args.project is not None:
        try:
            ingest.project_name(args.project)
        except ValueError as exc:
            raise BadInput(f"--project: {exc}") from exc
    files, problems = _expand(args.paths)
    for problem in problems:
        say(problem)
    status = EXIT_BAD_INPUT if problems else EXIT_OK
    failed = False
    for target, path in files:
        try:
            outcome, processed = ingest.ingest(
                target,
                cell_id=args.cell_id,
                project=args.project,
                format_name=args.format_name,
                force=args.force,
            )
        except (ValueError, ConnectorError, OSError) as exc:
            if is_infrastructure(exc):  # a network error, a full disk: not this file's
                raise
            # This file only (no permission, a path that is gone, …).
            say(printable(f"{path}: {os_reason(exc) if isinstance(exc, OSError) else exc}"))
            status = EXIT_BAD_INPUT
            continue
        except Exception as exc:
            if is_infrastructure(exc):
                raise
            # Not the file's fault and not the platform's: a bug of ours (e.g. while its cell's statistics are
            # computed; the traceback with --debug). The next file is still tried; the run ends with exit 1.
            logging.getLogger(__name__).debug("%s: failed", path, exc_info=True)
            say(printable(f"{path}: failed ({describe_exception(exc)})"))
            failed = True
            continue
        if outcome.status == "quarantined":
            print(f"quarantined {printable(str(outcome.reason))}", file=sys.stderr)
            status = EXIT_BAD_INPUT
        elif outcome.status == "skipped":
            print(f"skipped {outcome.file_label}: {outcome.reason}")
        else:
            cycles = next((p.cycles for p in processed if p.cell_id == outcome.cell_id), 0)
            print(
                f"loaded {printable(outcome.file_label)} → cell {printable(str(outcome.cell_id))}:"
                f" {outcome.rows} rows, {cycles} cycles "
                f"({outcome.format}, cycles by {outcome.cycle_rule}) in {outcome.seconds:.2f}s"
            )
    return EXIT_ERROR if failed else status


def _reprocess(args: argparse.Namespace, engine: Engine) -> int:
    """Named cells (recomputed), every cell (`--all`), the cells of a project or with files loaded since a
    date (recomputed), or by default the cells whose statistics are not of this processor version."""
    from blc import process, queries

    chosen = bool(args.all or args.project or args.since)
    if chosen and args.cell_ids:
        raise BadInput("give cell ids or --all/--project/--since, not both")
    unknown = queries.unknown_cells(engine, args.cell_ids)
    if unknown:
        raise BadInput(f"no cell {unknown[0]!r} (see `blc cells`)")
    try:
        cells = args.cell_ids or queries.cells_to_reprocess(
            engine, every=chosen, project=args.project, since=args.since
        )
    except queries.BadSelection as exc:
        raise BadInput(str(exc)) from exc
    if not cells:
        if chosen:
            print("no cell matches: nothing to do")
        else:
            print(f"every cell is at processor version {process.PROCESSOR_VERSION}: nothing to do")
    for cell in cells:
        outcome = process.process_cell(cell, recompute=bool(chosen or args.cell_ids))
        print(
            f"reprocessed {cell}: {outcome.cycles} cycles ({outcome.complete_cycles} complete), "
            f"processor {outcome.processor_version}, in {outcome.seconds:.2f}s"
        )
    return EXIT_OK


def _project(args: argparse.Namespace, engine: Engine) -> int:
    from blc import projects

    try:
        if args.action == "add":
            role, created = projects.add(engine, args.name)
            print(f"project {args.name}: role {role} {'created' if created else 'already there'}")
        elif args.action == "grant":
            role = projects.grant(engine, args.name, args.role)
            print(f"{args.role} may read project {args.name} (member of {role})")
        else:
            for row in projects.listing(engine):
                members = ", ".join(row.members) or "-"
                role = row.role or "- (blc project add)"
                print(f"{row.name}: {row.cells} cells, {row.files} files, role {role}, members {members}")
    except (projects.ProjectError, ValueError) as exc:
        raise BadInput(str(exc)) from exc
    return EXIT_OK


# --- Redash ---------------------------------------------------------------------------------------------


def _redash(args: argparse.Namespace, settings: Settings) -> int:
    if args.action == "sync":
        return _redash_sync(settings)
    if settings.redash_url and not settings.redash_api_key:
        raise BadInput("BLC_REDASH_URL is set but BLC_REDASH_API_KEY is not: set both to refresh")
    from blc.process import PUBLISHED_TABLES
    from blc.redash_refresh import LEDGER_TABLES, refresh_dashboards

    # every query: per-cell ones for the most recently loaded cells (a query skipped for want of a cell
    # to show, in an empty database, is not a failure)
    outcomes = refresh_dashboards({*PUBLISHED_TABLES, *LEDGER_TABLES}, settings=settings)
    for outcome in outcomes:
        print(
            f"{outcome['name']}: {outcome['status']}" + (f" ({outcome['error']})" if outcome["error"] else "")
        )
    if not settings.redash_url:
        print("BLC_REDASH_URL is not set: nothing refreshed")
    failed = [o for o in outcomes if o["status"] == "failed"]
    if failed:
        say(f"{len(failed)} of {len(outcomes)} Redash queries failed to refresh (listed above)")
        return EXIT_ERROR
    return EXIT_OK


def _redash_sync(settings: Settings) -> int:
    from blc.redash_client import RedashClient
    from blc.redash_specs import load_query_specs
    from blc.redash_sync import sync_data_source, sync_queries

    if not settings.redash_url or not settings.redash_api_key:
        raise BadInput("set BLC_REDASH_URL and BLC_REDASH_API_KEY to sync the queries")
    with RedashClient(settings.redash_url, settings.redash_api_key) as client:
        source_id = settings.redash_data_source_id
        if source_id is None and settings.redash_data_source_url:
            name = settings.redash_data_source_name
            source_id, action = sync_data_source(client, name, settings.redash_data_source_url)
            print(f"data source {name}: {action} (id {source_id})")
        if source_id is None:
            sources = client.list_data_sources()
            if len(sources) != 1:
                raise BadInput(
                    f"{len(sources)} Redash data sources: set BLC_REDASH_DATA_SOURCE_ID to choose one"
                )
            source_id = int(sources[0]["id"])
        ids = sync_queries(client, load_query_specs(settings.redash_dir / "queries"), source_id)
    for slug, query_id in ids.items():
        print(f"{slug}: query {query_id}")
    return EXIT_OK


# --- errors ---------------------------------------------------------------------------------------------


if __name__ == "__main__":
    raise SystemExit(main())
