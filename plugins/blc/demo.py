"""`make demo` / `blc demo`: the whole chain, through real Airflow, over the bundled sample files.

Copies the samples into ./drops/ (the first of BLC_SHARE_DIRS), adds a seeded synthetic cell that shows a
fade curve, runs `airflow dags test blc_watch` (metadata DB under .blc/airflow),
then prints per cell what was found. A second run ingests nothing new (the ledger knows every file).
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import time
from pathlib import Path

import sqlalchemy as sa

from blc import db, queries
from blc.airflow_env import airflow_environment, airflow_executable, ensure_metadata_db
from blc.settings import get_settings

#: Real instrument files shipped in tests/data (sources and licences in tests/data/NOTICE).
SAMPLE_FILES = (
    "arbin/arbin_example.csv",
    "arbin/2017-05-09_test-TC-contact_CH33.csv",
    "arbin/2017-05-09_test-TC-contact_CH33_Metadata.csv",
    "arbin/FastCharge_000025_CH8.csv",
    "arbin/mits_pro_bs542_channel_11.csv",
    "batteryarchive/CALCE_CX2-33_prism_LCO_25C_0-100_0.5-0.5C_d_timeseries.csv",
)


def copy_samples(drops: Path, data_dir: Path) -> list[Path]:
    drops.mkdir(parents=True, exist_ok=True)
    copied = []
    for relative in SAMPLE_FILES:
        source = data_dir / relative
        target = drops / source.name
        if not target.exists():
            shutil.copy2(source, target)  # keeps the mtime: the files are already "stable"
            copied.append(target)
    return copied


#: A seeded synthetic LFP-like cell cycled at 1C (blc.synthetic): the real samples hold at most two cycles,
#: this one holds ~165, so the demo shows a fade curve. Same seed, same bytes: a rerun ingests nothing.
SYNTHETIC_CELL = "synthetic_lfp_1C_cell.csv"
SYNTHETIC_ROWS = 150_000


def write_synthetic_cell(drops: Path, scratch: Path) -> Path | None:
    """Write the synthetic cell (and its Arbin _Metadata.csv) outside the drop folder, then move it in
    whole, so the watcher never sees half a file."""
    target = drops / SYNTHETIC_CELL
    if target.exists():
        return None
    from blc import synthetic

    scratch.mkdir(parents=True, exist_ok=True)
    written = synthetic.write_arbin_csv(scratch / SYNTHETIC_CELL, SYNTHETIC_ROWS, seed=7)
    sidecar = written.with_name(f"{written.stem}_Metadata.csv")
    shutil.move(sidecar, drops / sidecar.name)
    # Arbin's _Metadata.csv has no field for the nominal capacity: the cell's own sidecar says it (the
    # generator's 1C), so equivalent full cycles count against it.
    (drops / f"{SYNTHETIC_CELL}.meta.yaml").write_text(
        f"nominal_capacity_ah: {synthetic.NOMINAL_CAPACITY_AH}\nchemistry: LFP\n", encoding="utf-8"
    )
    shutil.move(written, target)
    return target


def run_demo() -> int:
    settings = get_settings()
    drops = settings.share_dirs[0]  # ./drops unless BLC_SHARE_DIRS says otherwise
    # Starts the embedded Postgres and applies the migrations: the demo's tasks only check the schema.
    engine = db.engine_for(settings, migrate=True)
    copied = copy_samples(drops, settings.project_root / "tests" / "data")
    synthetic_cell = write_synthetic_cell(drops, settings.home / "scratch")
    print(
        f"drop folder {drops}: {len(copied)} sample file(s) copied, {len(SAMPLE_FILES)} in the set;"
        f" synthetic fading cell {'written' if synthetic_cell else 'already there'} ({SYNTHETIC_CELL})"
    )

    env = airflow_environment(settings)
    env["BLC_SHARE_DIRS"] = str(drops)
    env["BLC_SETTLE_SECONDS"] = "0"
    log_path = settings.home / "demo-airflow.log"
    ensure_metadata_db(env)
    started = time.monotonic()
    with log_path.open("w") as log_file:
        code = subprocess.call(
            [airflow_executable(), "dags", "test", "blc_watch"],
            env=env,
            stdout=log_file,
            stderr=subprocess.STDOUT,
        )
    print(f"airflow dags test blc_watch: exit {code} in {time.monotonic() - started:.1f}s (log: {log_path})")
    _print_summary(engine, drops)
    return 0 if code == 0 else 1


def _print_summary(engine: sa.Engine, drops: Path) -> None:
    with engine.connect() as conn:
        files = conn.execute(
            sa.text(
                "select uri, status, cell_id, rows, error from blc.source_file"
                " where uri like :prefix order by uri"
            ),
            {"prefix": drops.resolve().as_uri() + "/%"},
        ).all()
    print("\nfiles in the ledger:")
    for row in files:
        detail = f"{row.rows} rows → {row.cell_id}" if row.error is None else row.error
        print(f"  {row.status:<11} {Path(row.uri).name}: {detail}")

    overview = queries.cell_overview(engine)
    print("\ncells:")
    header = (
        f"  {'cell_id':<58} {'cycles':>6} {'first Ah':>9} {'last Ah':>9} {'retention':>9} {'to 80 %':>10}"
        f" {'EFC':>7}"
    )
    print(header)
    for cell in overview.itertuples():
        retention = "-" if _missing(cell.last_retention) else f"{cell.last_retention:.1%}"
        print(
            f"  {cell.cell_id:<58} {_int(cell.cycles):>6} {_num(cell.first_discharge_capacity_ah):>9} "
            f"{_num(cell.last_discharge_capacity_ah):>9} {retention:>9} {_to_80(cell):>10}"
            f" {_num(cell.equivalent_full_cycles, 1):>7}"
        )
    print("  (to 80 %: the cycle retention fell below 80 %, or ~N projected from the last 100 cycles' slope)")
    print(
        "\nnext: `.venv/bin/blc cycles <cell_id> --format csv`, `.venv/bin/blc fade <cell_id>`,"
        " `make up` for the Airflow UI on http://localhost:8080 watching ./drops"
    )
    sys.stdout.flush()


def _missing(value: object) -> bool:
    return value is None or value != value  # NaN


def _num(value: object, digits: int = 4) -> str:
    return "-" if _missing(value) else f"{float(value):.{digits}f}"  # type: ignore[arg-type]


def _to_80(cell: object) -> str:
    reached, projected = getattr(cell, "cycles_to_80", None), getattr(cell, "projected_cycles_to_80", None)
    if not _missing(reached):
        return _int(reached)
    return "-" if _missing(projected) else f"~{_int(projected)}"


def _int(value: object) -> str:
    return "-" if _missing(value) else str(int(value))  # type: ignore[call-overload]
