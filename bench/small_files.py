"""Thousands of small files through the real scheduler: `small_files_per_minute`.

`make up`'s stack (Airflow standalone: scheduler, API server, DAG processor, triggerer; LocalExecutor with
the parallelism `blc airflow` sets) watches an empty folder; `count` seeded Arbin files of `rows` rows are
moved into it at once (renames on one file system: each appears whole), a `blc_watch` run is triggered
through the REST API (not waiting for the next minute), and the clock runs from the drop to the moment the
ledger shows the last of them `processed`. Run alone: `python bench/small_files.py` (prints the figures).
"""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path
from typing import Any

import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[1]
if str(ROOT / "plugins") not in sys.path:
    sys.path.insert(0, str(ROOT / "plugins"))

from blc import synthetic  # noqa: E402
from blc.airflow_env import admin_token, free_port, rest  # noqa: E402

READY_TIMEOUT_S = 180
DONE_TIMEOUT_S = 900


def seeded_files(folder: Path, count: int, rows: int, seed: int) -> list[Path]:
    """`count` distinct Arbin files (seed + n each), generated once and reused."""
    folder.mkdir(parents=True, exist_ok=True)
    stamp = folder / f".done-{count}-{rows}-{seed}"
    paths = [folder / f"small_{n:04d}.csv" for n in range(count)]
    if not stamp.exists():
        for n, path in enumerate(paths):
            synthetic.write_arbin_csv(path, rows, seed=seed + n)
        stamp.write_text("ok\n")
    return paths


def _processed(engine: sa.Engine) -> int:
    with engine.connect() as conn:
        return int(
            conn.execute(sa.text("select count(*) from blc.source_file where status = 'processed'")).scalar()
        )


def run(
    work: Path, database_url: str, *, count: int = 200, rows: int = 5_000, seed: int = 11
) -> dict[str, Any]:
    files = seeded_files(work / f"small_files_{rows}", count, rows, seed)
    size_mb = sum(path.stat().st_size for path in files) / 1e6
    home = work / "small_files_home"
    shutil.rmtree(home, ignore_errors=True)
    drops, staging = home / "drops", home / "staging"
    drops.mkdir(parents=True)
    staging.mkdir()
    for path in files:  # on the drop folder's file system, so that the drop is a rename
        shutil.copy2(path, staging / path.name)
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BLC_"))}
    env.update(
        BLC_HOME=str(home),
        BLC_DATABASE_URL=database_url,
        BLC_SHARE_DIRS=str(drops),
        BLC_SETTLE_SECONDS="0",
        PYTHONPATH=str(ROOT / "plugins"),
    )
    log = (home / "up.log").open("w")
    up = subprocess.Popen(
        [sys.executable, "-m", "blc.standalone", "up", "--port", str(port)],
        env=env,
        cwd=ROOT,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    engine = sa.create_engine(database_url)
    try:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while "Ctrl+C" not in (home / "up.log").read_text():
            if up.poll() is not None or time.monotonic() > deadline:
                raise RuntimeError(f"make up did not start: {(home / 'up.log').read_text()[-2000:]}")
            time.sleep(0.5)
        token = admin_token(port, home / "airflow")
        time.sleep(5)  # let the first scheduled run (nothing to do) come and go
        dropped = time.monotonic()
        for path in files:
            os.rename(staging / path.name, drops / path.name)
        rest(port, "POST", "/api/v2/dags/blc_watch/dagRuns", token, {"logical_date": None})
        done = 0
        while done < count:
            if time.monotonic() - dropped > DONE_TIMEOUT_S:
                raise RuntimeError(f"only {done} of {count} files processed in {DONE_TIMEOUT_S} s")
            time.sleep(0.5)
            done = _processed(engine)
        seconds = time.monotonic() - dropped
    finally:
        os.killpg(up.pid, signal.SIGINT)
        try:
            up.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(up.pid, signal.SIGKILL)
        engine.dispose()
        log.close()
    return {
        "small_files": count,
        "small_file_rows": rows,
        "small_files_mb": round(size_mb, 1),
        "small_files_seconds": seconds,
        "small_files_per_minute": count / seconds * 60,
        "small_files_executor": "LocalExecutor",
    }


if __name__ == "__main__":
    url = sys.argv[1] if len(sys.argv) > 1 else os.environ["BLC_DATABASE_URL"]
    print(json.dumps(run(ROOT / "bench" / "work", url), indent=2))
