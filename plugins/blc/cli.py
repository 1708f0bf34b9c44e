"""The ``blc`` command line. Same pipeline steps as the DAGs; exit code ≠ 0 with a one-line reason on
bad input.

    blc db upgrade
    blc ingest PATH… [--cell-id ID] [--project P] [--format F] [--force]
    blc cells | cycles CELL_ID | fade CELL_ID  [--format table|csv|json]
    blc reprocess [CELL_ID…] [--all]
    blc redash refresh
    blc demo
    blc airflow ARGS…
"""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path
from typing import TYPE_CHECKING

from blc.settings import Settings, get_settings

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Engine

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2

#: `blc cycles`: the full per-cycle metric set (DESIGN §5 + issue 5); `--all` adds the vendor summary and
#: the bookkeeping columns.
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


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="blc", description="Battery Lifecycle platform")
    parser.add_argument("-v", "--verbose", action="store_true", help="log progress to stderr")
    sub = parser.add_subparsers(dest="command", required=True)

    db = sub.add_parser("db", help="database schema")
    db.add_argument("action", choices=["upgrade", "version"])

    ingest = sub.add_parser("ingest", help="ingest cycler files (or every file of a folder)")
    ingest.add_argument("paths", nargs="+", type=Path)
    ingest.add_argument("--cell-id")
    ingest.add_argument("--project")
    ingest.add_argument("--format", dest="format_name", help="skip detection: use this connector")
    ingest.add_argument("--force", action="store_true", help="ingest again even if the content is known")

    for name, help_text in (("cycles", "per-cycle statistics"), ("fade", "capacity fade")):
        command = sub.add_parser(name, help=help_text)
        command.add_argument("cell_id")
        command.add_argument("--format", choices=["table", "csv", "json"], default="table")
        command.add_argument("--all", action="store_true", help="every column, not only the usual ones")
    reprocess = sub.add_parser(
        "reprocess", help="recompute statistics and fade from stored samples (no raw file is read)"
    )
    reprocess.add_argument("cell_ids", nargs="*", metavar="CELL_ID")
    reprocess.add_argument(
        "--all", action="store_true", help="every cell, recomputed from its samples whatever its version"
    )
    cells = sub.add_parser("cells", help="cells and their summaries")
    cells.add_argument("--format", choices=["table", "csv", "json"], default="table")

    export = sub.add_parser("export", help="a cell as BDF or batteryarchive.org files")
    export.add_argument("cell_id")
    export.add_argument("--to", dest="directory", type=Path, required=True, help="folder to write into")
    export.add_argument("--format", choices=["bdf", "batteryarchive"], default="bdf")
    export.add_argument("--parquet", action="store_true", help="BDF as Parquet instead of CSV")

    redash = sub.add_parser("redash", help="Redash queries as code")
    redash.add_argument("action", choices=["sync", "refresh"])

    sub.add_parser("demo", help="run the whole chain over the bundled sample files")
    airflow = sub.add_parser("airflow", help="the Airflow CLI with this project's AIRFLOW_HOME and folders")
    airflow.add_argument("args", nargs=argparse.REMAINDER)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    argv = list(sys.argv[1:] if argv is None else argv)
    if argv[:1] == ["airflow"]:  # pass everything through untouched, --help included
        from blc.airflow_env import run_airflow

        return run_airflow(argv[1:])
    args = _parser().parse_args(argv)
    if args.command == "ingest":
        from blc import validation

        # Great Expectations takes seconds to import: start it first, so that it overlaps everything else
        # (our own imports, the database set-up, parsing). pandas is not imported before this on purpose.
        validation.warm_up(validation.CANONICAL_SUITE, expectations_dir=get_settings().expectations_dir)
    logging.basicConfig(
        level=logging.INFO if args.verbose else logging.WARNING,
        stream=sys.stderr,
        format="%(levelname)s %(name)s: %(message)s",
    )
    try:
        return _dispatch(args)
    except BrokenPipeError:
        return EXIT_OK
    except _BadInput as exc:
        print(f"blc: {exc}", file=sys.stderr)
        return EXIT_BAD_INPUT


class _BadInput(Exception):
    pass


def _dispatch(args: argparse.Namespace) -> int:
    if args.command == "demo":
        from blc.demo import run_demo

        return run_demo()

    from blc import db, pipeline

    settings = get_settings()
    engine = pipeline.engine_for(settings)
    if args.command == "db":
        version = db.current_version(engine)
        print(f"schema blc at version {version}")
        return EXIT_OK
    if args.command == "ingest":
        return _ingest(args, settings)
    if args.command == "reprocess":
        return _reprocess(args, engine)
    if args.command == "cells":
        _emit(pipeline.cell_overview(engine), args.format)
        return EXIT_OK
    if args.command in ("cycles", "fade"):
        table = (pipeline.cycle_table if args.command == "cycles" else pipeline.fade_table)(
            engine, args.cell_id
        )
        if table.empty:
            raise _BadInput(f"no {args.command} for cell {args.cell_id!r} (see `blc cells`)")
        wanted = CYCLE_COLUMNS if args.command == "cycles" else FADE_COLUMNS
        if not args.all:
            table = table[list(wanted)]
        _emit(table, args.format)
        return EXIT_OK
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
    if args.command == "redash" and args.action == "sync":
        return _redash_sync(settings)
    if args.command == "redash":
        outcomes = pipeline.refresh_dashboards(set(pipeline.PUBLISHED_TABLES), settings=settings)
        for outcome in outcomes:
            print(
                f"{outcome['name']}: {outcome['status']}"
                + (f" ({outcome['error']})" if outcome["error"] else "")
            )
        if not settings.redash_url:
            print("BLC_REDASH_URL is not set: nothing refreshed")
        return EXIT_OK if all(o["status"] == "finished" for o in outcomes) else EXIT_ERROR
    raise AssertionError(args.command)


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


def _expand(paths: list[Path]) -> list[Path]:
    from connectors.share import is_ignored

    files: list[Path] = []
    for path in paths:
        if path.is_dir():
            files.extend(p for p in sorted(path.rglob("*")) if p.is_file() and not is_ignored(p.name))
        elif path.is_file():
            files.append(path)
        else:
            raise _BadInput(f"{path}: no such file or folder")
    return files


def _ingest(args: argparse.Namespace, settings: Settings) -> int:
    from blc import pipeline

    status = EXIT_OK
    for path in _expand(args.paths):
        outcome, processed = pipeline.ingest(
            path.resolve().as_uri(),
            cell_id=args.cell_id,
            project=args.project,
            format_name=args.format_name,
            force=args.force,
        )
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


def _reprocess(args: argparse.Namespace, engine: Engine) -> int:
    """Named cells (recomputed), every cell (`--all`, recomputed), or by default the cells whose statistics
    are not of this processor version."""
    from blc import pipeline

    if args.all and args.cell_ids:
        raise _BadInput("give cell ids or --all, not both")
    unknown = pipeline.unknown_cells(engine, args.cell_ids)
    if unknown:
        raise _BadInput(f"no cell {unknown[0]!r} (see `blc cells`)")
    cells = args.cell_ids or pipeline.cells_to_reprocess(engine, every=args.all)
    if not cells:
        print(f"every cell is at processor version {pipeline.PROCESSOR_VERSION}: nothing to do")
    for cell in cells:
        outcome = pipeline.process_cell(cell, recompute=bool(args.all or args.cell_ids))
        print(
            f"reprocessed {cell}: {outcome.cycles} cycles ({outcome.complete_cycles} complete), "
            f"processor {outcome.processor_version}, in {outcome.seconds:.2f}s"
        )
    return EXIT_OK


def _emit(table: pd.DataFrame, fmt: str) -> None:
    import pandas as pd

    if fmt == "csv":
        table.to_csv(sys.stdout, index=False, float_format="%.10g")
    elif fmt == "json":
        sys.stdout.write(table.to_json(orient="records", double_precision=15) + "\n")
    else:
        with pd.option_context("display.max_columns", None, "display.width", 200):
            print(table.to_string(index=False) if not table.empty else "(none)")


if __name__ == "__main__":
    raise SystemExit(main())
