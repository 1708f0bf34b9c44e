"""No NaN or ±Infinity reaches Redash. Redash 25.1's worker cannot serialise them: a query whose result
holds one fails (job status 4, empty error) and its widgets go blank. The fake Redash here runs each job's
SQL on the test database and fails the same way, so the dashboards' own queries are checked end to end."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from blc import db, pipeline
from blc.redash_client import EMPTY_JOB_ERROR, RedashClient
from tests.fakes.redash_server import FAILED, FINISHED, FakeRedashServer

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.integration


def _sync(redash: FakeRedashServer) -> dict[str, int]:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("blc")), "redash", "sync"],
        capture_output=True,
        text=True,
        timeout=120,
        env={**os.environ, "BLC_REDASH_URL": redash.url, "BLC_REDASH_API_KEY": redash.api_key},
    )
    assert done.returncode == 0, done.stderr
    return {line.split(":")[0]: int(line.split()[-1]) for line in done.stdout.splitlines()}


def test_a_curve_holding_nan_and_infinity_refreshes_with_nulls(  # type: ignore[no-untyped-def]
    engine, blc_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    outcome, processed = pipeline.ingest((ROOT / "tests/data/arbin/arbin_example.csv").as_uri())
    with engine.begin() as conn:  # an undefined dQ/dV and a broken voltage in the first half-cycle
        conn.execute(
            sa.text(
                "update blc.file_curve set dqdv[1] = 'NaN', dqdv[2] = 'Infinity', voltage_volt[3] = '-Infinity'"
                " where (file_id, cycle_index, direction) = (select file_id, cycle_index, direction"
                " from blc.file_curve order by 1, 2, 3 limit 1)"
            )
        )
        first = conn.execute(
            sa.text(
                "select dqdv, voltage_volt from blc.curve where cycle_index = 1 order by direction, point limit 3"
            )
        ).all()
    assert [tuple(row) for row in first][:2] == [(None, first[0][1]), (None, first[1][1])]
    assert first[2][1] is None  # the view hands out NULL for every non-finite value

    with FakeRedashServer(database_url=os.environ["BLC_DATABASE_URL"]) as redash:
        ids = _sync(redash)
        monkeypatch.setenv("BLC_REDASH_URL", redash.url)
        monkeypatch.setenv("BLC_REDASH_API_KEY", redash.api_key)
        changed = {*processed[0].changed_tables, "blc.curve"}
        results = pipeline.refresh_dashboards(changed, cells=[outcome.cell_id or ""])
        curves = RedashClient(redash.url, redash.api_key).refresh_query(
            ids["voltage_curves"],
            {"cell_id": ["arbin_example"], "cycle_1": 1, "cycle_2": 2, "cycle_3": 2},
            name="voltage_curves",
        )
        rows = redash.query_results[curves.query_result_id]["data"]["rows"]

    statuses = {r["name"]: r["status"] for r in results}
    assert set(statuses.values()) == {"finished"}, results
    assert curves.status == "finished" and rows
    assert sum(row["dqdv"] is None for row in rows) >= 2


def test_the_fake_fails_a_result_holding_nan_as_redash_does(blc_env: Path) -> None:
    with FakeRedashServer(database_url=os.environ["BLC_DATABASE_URL"]) as redash:
        nan = redash.add_query("nan", "select 'NaN'::float8 as x")
        fine = redash.add_query("fine", "select 1.5::float8 as x")
        client = RedashClient(redash.url, redash.api_key)
        failed = client.refresh_query(nan["id"], {}, name="nan")
        finished = client.refresh_query(fine["id"], {}, name="fine")

    assert failed.status == "failed" and failed.error == EMPTY_JOB_ERROR  # Redash's own error is empty
    assert redash.jobs and {job["status"] for job in redash.jobs.values()} == {FAILED, FINISHED}
    assert [job["error"] for job in redash.jobs.values() if job["status"] == FAILED] == [""]
    assert finished.status == "finished"


def test_statistics_never_store_infinity(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame({"source": ["inf"], "x": [np.inf], "y": [-np.inf], "z": [np.nan], "w": [2.5]})
    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "create temporary table stats_probe (source text, x float8, y float8, z float8, w float8)"
            )
        )
        db.copy_frame(conn, "stats_probe", frame, ["source", "x", "y", "z", "w"])
        stored = conn.execute(sa.text("select x, y, z, w from stats_probe")).one()

    assert tuple(stored) == (None, None, None, 2.5)
