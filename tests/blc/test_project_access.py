"""Per-project access in the database (docs/access.md): a project's role reads its project's rows and no
other's, in every table and view that carries cell data, the batteryarchive views included, and cannot
write; a login role granted the project reads the same. Roles belong to the whole Postgres cluster, so
the projects here get names of their own and their roles are dropped afterwards."""

from __future__ import annotations

import uuid
from collections.abc import Iterator
from pathlib import Path

import pytest
import sqlalchemy as sa
from psycopg2 import errors

from blc import cli, pipeline

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
pytestmark = pytest.mark.integration

#: Every table and view that carries cell data, with the column that names the cell (or the file).
CELL_DATA = (
    "blc.cell",
    "blc.source_file",
    "blc.timeseries",
    "blc.cycle_stats",
    "blc.capacity_fade",
    "blc.cell_summary",
    "blc.file_cycle_stats",
    "blc.file_curve",
    "blc.validation_result",
    "blc.curve",
    "blc.cell_timeseries",
    "blc.validation_finding",
    "batteryarchive.cell_metadata",
    "batteryarchive.cycle_metadata",
    "batteryarchive.cycle_stats",
    "batteryarchive.cycle_timeseries",
)


@pytest.fixture
def two_projects(engine, blc_env: Path) -> Iterator[tuple[str, str, str]]:  # type: ignore[no-untyped-def]
    """Projects a (arbin_example) and b (maccor_001), each with its role, and a login role for a."""
    suffix = uuid.uuid4().hex[:8]
    a, b, login = f"lab_a_{suffix}", f"lab_b_{suffix}", f"redash_a_{suffix}"
    pipeline.ingest((DATA / "arbin" / "arbin_example.csv").as_uri(), project=a)
    pipeline.ingest((DATA / "maccor" / "maccor_001.txt").as_uri(), project=b)
    with engine.begin() as conn:
        conn.execute(sa.text(f"create role {login} login"))
    try:
        yield a, b, login
    finally:
        with engine.begin() as conn:
            for role in (login, f"blc_project_{a}", f"blc_project_{b}"):
                conn.execute(sa.text(f"drop role if exists {role}"))


def _counts(engine, role: str | None) -> dict[str, int]:  # type: ignore[no-untyped-def]
    """Rows of each table and view as `role` reads them (None: as the owner)."""
    with engine.connect() as conn:
        if role is not None:
            conn.execute(sa.text(f"set role {role}"))
        try:
            return {
                name: conn.execute(sa.text(f"select count(*) from {name}")).scalar_one() for name in CELL_DATA
            }
        finally:
            conn.execute(sa.text("reset role"))
            conn.rollback()


def test_a_project_role_reads_its_rows_only_and_cannot_write(engine, two_projects, capsys) -> None:  # type: ignore[no-untyped-def]
    a, b, login = two_projects
    assert cli.main(["project", "add", a]) == 0
    assert cli.main(["project", "add", b]) == 0
    assert cli.main(["project", "grant", a, login]) == 0

    everything = _counts(engine, None)  # the owner: every row of both projects
    seen_by_a = _counts(engine, f"blc_project_{a}")
    seen_by_b = _counts(engine, f"blc_project_{b}")
    seen_by_login = _counts(engine, login)

    with engine.connect() as conn:  # the independent truth: rows of each cell, counted as the owner
        rows_a = conn.execute(
            sa.text("select count(*) from blc.timeseries where cell_id = 'arbin_example'")
        ).scalar()
        cells_b = conn.execute(
            sa.text("select count(*) from blc.cycle_stats where cell_id = 'maccor_001'")
        ).scalar()
    assert seen_by_a["blc.cell"] == seen_by_b["blc.cell"] == 1
    assert seen_by_a["blc.timeseries"] == rows_a == 2142
    assert seen_by_b["blc.cycle_stats"] == cells_b
    for name in CELL_DATA:  # together they see exactly what the owner sees, each only a part
        assert seen_by_a[name] + seen_by_b[name] == everything[name], name
    assert seen_by_a["batteryarchive.cycle_timeseries"] == rows_a
    assert (
        seen_by_b["batteryarchive.cycle_timeseries"] == everything["batteryarchive.cycle_timeseries"] - rows_a
    )
    assert seen_by_login == seen_by_a  # a login granted project a reads what a's role reads

    with engine.connect() as conn:
        conn.execute(sa.text(f"set role blc_project_{a}"))
        with pytest.raises(sa.exc.ProgrammingError) as refused:
            conn.execute(sa.text("delete from blc.timeseries"))
        assert isinstance(refused.value.orig, errors.InsufficientPrivilege)
        conn.rollback()
        conn.execute(sa.text(f"set role blc_project_{a}"))
        with pytest.raises(sa.exc.ProgrammingError):
            conn.execute(sa.text("insert into blc.project (name) values ('intruder')"))
        conn.rollback()
        conn.execute(sa.text(f"set role blc_project_{a}"))
        hidden = conn.execute(sa.text("select count(*) from blc.project where name = :b"), {"b": b}).scalar()
        conn.rollback()
    assert hidden == 0


def test_a_role_with_no_project_sees_no_row(engine, two_projects) -> None:  # type: ignore[no-untyped-def]
    _, _, login = two_projects  # a login role that was granted nothing
    with engine.begin() as conn:
        conn.execute(sa.text(f"grant blc_reader to {login}"))

    seen = _counts(engine, login)

    assert set(seen.values()) == {0}


def test_project_commands_say_what_they_did_and_refuse_unknown_names(engine, two_projects, capsys) -> None:  # type: ignore[no-untyped-def]
    a, _, login = two_projects

    assert cli.main(["project", "add", a]) == 0
    assert cli.main(["project", "add", a]) == 0
    assert cli.main(["project", "grant", a, login]) == 0
    assert cli.main(["project", "grant", "no_such_project", login]) == 2
    assert cli.main(["project", "grant", a, "no_such_role_x"]) == 2
    assert cli.main(["project", "list"]) == 0
    out, err = capsys.readouterr()

    assert f"project {a}: role blc_project_{a} created" in out
    assert f"project {a}: role blc_project_{a} already there" in out
    assert f"{a}: 1 cells, 1 files, role blc_project_{a}, members {login}" in out
    assert "no project 'no_such_project'" in err and "no database role 'no_such_role_x'" in err
