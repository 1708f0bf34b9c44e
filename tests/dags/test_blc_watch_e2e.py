"""End to end through real Airflow (`dag.test()`) into real Postgres: a drop folder becomes fade tables."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


def _dag(dag_id: str):  # type: ignore[no-untyped-def]
    from airflow.dag_processing.dagbag import DagBag

    bag = DagBag(dag_folder=str(ROOT / "dags" / f"{dag_id}.py"))
    assert bag.import_errors == {}
    return bag.dags[dag_id]


def test_watch_run_ingests_folder_quarantines_bad_file_and_labels_tasks(
    airflow_db, engine, blc_env: Path
) -> None:  # type: ignore[no-untyped-def]
    shutil.copy2(DATA / "arbin" / "arbin_example.csv", blc_env / "arbin_example.csv")
    shutil.copy2(DATA / "arbin" / "2017-05-09_test-TC-contact_CH33.csv", blc_env / "ch33.csv")
    shutil.copy2(
        DATA / "arbin" / "2017-05-09_test-TC-contact_CH33_Metadata.csv", blc_env / "ch33_Metadata.csv"
    )
    content = (DATA / "arbin" / "arbin_example.csv").read_bytes()
    (blc_env / "broken.csv").write_bytes(content[:40_000] + b"\n" + content[40_000:])  # a row cut in two

    run = _dag("blc_watch").test()

    states = {(ti.task_id, ti.rendered_map_index): ti.state for ti in run.get_task_instances()}
    assert states[("ingest_files", "arbin_example.csv")] == "success"
    assert states[("ingest_files", "ch33.csv")] == "success"
    assert states[("ingest_files", "broken.csv")] == "failed"
    assert states[("refresh_redash", None)] == "success"
    assert states[("report", None)] == "failed"  # one file was quarantined: the run says so
    assert run.state == "failed"
    with engine.connect() as conn:
        status = dict(conn.execute(sa.text("select uri, status from blc.source_file")).all())
        rows = dict(conn.execute(sa.text("select cell_id, count(*) from blc.timeseries group by 1")).all())
        cycles = conn.execute(
            sa.text("select count(*) from blc.cycle_stats where cell_id = 'arbin_example'")
        ).scalar()
        summary = conn.execute(sa.text("select cycles from blc.cell_summary where cell_id = 'ch33'")).scalar()
    assert {Path(u).name: s for u, s in status.items()} == {
        "arbin_example.csv": "processed",
        "ch33.csv": "processed",
        "broken.csv": "quarantined",
    }
    assert rows == {"arbin_example": 2142, "ch33": 287}
    assert cycles == 2
    assert summary == 1

    second = _dag("blc_watch").test()  # the ledger knows every file: nothing is mapped

    assert second.state == "success"

    mapped = [ti for ti in second.get_task_instances() if ti.task_id == "ingest_files"]
    assert all(ti.state in ("skipped", "removed") or ti.map_index == -1 for ti in mapped)
    with engine.connect() as conn:
        assert conn.execute(sa.text("select count(*) from blc.timeseries")).scalar() == 2142 + 287


def test_ingest_dag_reingests_one_uri_from_conf(airflow_db, engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = blc_env / "cell_x.csv"
    shutil.copy2(DATA / "batteryarchive" / "CALCE_CX2-33_prism_LCO_25C_0-100_0.5-0.5C_d_timeseries.csv", path)

    run = _dag("blc_ingest").test(run_conf={"uri": path.as_uri(), "cell_id": "CX2-33"})

    assert run.state == "success"
    with engine.connect() as conn:
        assert (
            conn.execute(sa.text("select count(*) from blc.timeseries where cell_id = 'CX2-33'")).scalar()
            == 15
        )
        assert (
            conn.execute(sa.text("select cycles from blc.cell_summary where cell_id = 'CX2-33'")).scalar()
            == 1
        )


def _returned(run, task_id: str):  # type: ignore[no-untyped-def]
    """The XCom a task of `run` returned."""
    from airflow.models.xcom import XComModel
    from airflow.utils.session import create_session

    with create_session() as session:
        row = (
            session.query(XComModel)
            .filter_by(dag_id=run.dag_id, run_id=run.run_id, task_id=task_id, key="return_value")
            .one()
        )
        value = row.value
    return XComModel.deserialize_value(row) if isinstance(value, (str, bytes)) else value


def test_ingest_dag_skips_known_content_unless_conf_forces_it(airflow_db, engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    path = blc_env / "cell_x.csv"
    shutil.copy2(DATA / "batteryarchive" / "CALCE_CX2-33_prism_LCO_25C_0-100_0.5-0.5C_d_timeseries.csv", path)
    conf = {"uri": path.as_uri(), "cell_id": "CX2-33"}
    ledger_sql = "select file_id, status, attempts, rows, updated_at from blc.source_file order by file_id"
    series_sql = "select count(*) from blc.timeseries where cell_id = 'CX2-33'"
    assert _dag("blc_ingest").test(run_conf={**conf, "force": False}).state == "success"
    with engine.connect() as conn:
        ledger_before = conn.execute(sa.text(ledger_sql)).all()

    again = _dag("blc_ingest").test(run_conf={**conf, "force": False})

    assert again.state == "success"
    assert _returned(again, "parse_validate_publish")["status"] == "skipped"
    with engine.connect() as conn:
        assert conn.execute(sa.text(ledger_sql)).all() == ledger_before
        assert conn.execute(sa.text(series_sql)).scalar() == 15

    forced = _dag("blc_ingest").test(run_conf={**conf, "force": True})

    assert forced.state == "success"
    assert _returned(forced, "parse_validate_publish")["status"] != "skipped"
    with engine.connect() as conn:
        ledger_after = conn.execute(sa.text(ledger_sql)).all()
        assert conn.execute(sa.text(series_sql)).scalar() == 15  # replaced, not appended
    assert [(r.file_id, r.status, r.attempts) for r in ledger_after] == [
        (r.file_id, r.status, r.attempts + 1) for r in ledger_before
    ]


def test_reprocess_dag_recomputes_stale_cells_then_named_ones(  # type: ignore[no-untyped-def]
    airflow_db, engine, blc_env: Path
) -> None:
    from blc import pipeline

    for name in ("arbin/arbin_example.csv", "maccor/maccor_001.txt"):
        pipeline.ingest((DATA / name).as_uri())
    with engine.begin() as conn:  # as if arbin_example had been processed by an older processor
        conn.execute(sa.text("update blc.file_cycle_stats set processor_version = '1' where file_id = 1"))
        before = conn.execute(sa.text("select count(*) from blc.cycle_stats")).scalar()

    stale = _dag("blc_reprocess").test()
    named = _dag("blc_reprocess").test(run_conf={"cells": ["maccor_001"]})

    labels = {ti.rendered_map_index for ti in stale.get_task_instances() if ti.task_id == "reprocess_cell"}
    assert stale.state == "success" and labels == {"arbin_example"}
    assert named.state == "success"
    assert {ti.rendered_map_index for ti in named.get_task_instances() if ti.task_id == "reprocess_cell"} == {
        "maccor_001"
    }
    with engine.connect() as conn:
        versions = conn.execute(sa.text("select distinct processor_version from blc.file_cycle_stats")).all()
        after = conn.execute(sa.text("select count(*) from blc.cycle_stats")).scalar()
    assert versions == [(pipeline.PROCESSOR_VERSION,)]
    assert after == before == 2 + 5


def test_reprocess_dag_takes_a_project_or_the_cells_loaded_since_a_date(  # type: ignore[no-untyped-def]
    airflow_db, engine, blc_env: Path
) -> None:
    from blc import pipeline

    pipeline.ingest((DATA / "arbin" / "arbin_example.csv").as_uri(), project="lfp_ageing")
    pipeline.ingest((DATA / "maccor" / "maccor_001.txt").as_uri())
    with engine.begin() as conn:  # arbin_example loaded in November, maccor_001 in December
        conn.execute(sa.text("update blc.source_file set loaded_at = '2026-11-02T10:00:00Z'"))
        conn.execute(
            sa.text(
                "update blc.source_file set loaded_at = '2026-12-02T10:00:00Z' where cell_id = 'maccor_001'"
            )
        )

    def reprocessed(conf: dict) -> tuple[str, set[str | None]]:  # type: ignore[type-arg]
        run = _dag("blc_reprocess").test(run_conf=conf)
        tis = run.get_task_instances()
        cells = {
            ti.rendered_map_index for ti in tis if ti.task_id == "reprocess_cell" and ti.state == "success"
        }
        return run.state, cells

    assert reprocessed({"project": "lfp_ageing"}) == ("success", {"arbin_example"})
    assert reprocessed({"since": "2026-12-01"}) == ("success", {"maccor_001"})
    assert reprocessed({"since": "2027-01-01"}) == ("success", set())
    state, _ = reprocessed({"project": "no_such_project"})
    assert state == "failed"
