"""Migrations against a real Postgres."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from blc import db
from blc.errors import MigrationChanged

ROOT = Path(__file__).resolve().parents[2]

pytestmark = pytest.mark.integration


def test_a_percent_sign_in_a_migration_is_text_not_a_placeholder(engine, tmp_path: Path) -> None:  # type: ignore[no-untyped-def]
    shutil.copytree(ROOT / "sql", tmp_path / "sql")
    (tmp_path / "sql" / "migrations" / "0999_probe.sql").write_text(
        "-- costs 5 % of a load\ncreate table blc.percent_probe (note text default '100%');\n"
    )
    try:
        applied = db.upgrade(engine, tmp_path / "sql")
        with engine.connect() as conn:
            default = conn.execute(
                sa.text(
                    "select column_default from information_schema.columns where table_name = 'percent_probe'"
                )
            ).scalar()
    finally:
        with engine.begin() as conn:
            conn.execute(sa.text("drop table if exists blc.percent_probe"))
            conn.execute(sa.text("delete from blc.schema_migrations where version = '0999'"))

    assert applied == ["0999_probe.sql"]
    assert default == "'100%'::text"


def test_a_migration_changed_after_it_was_applied_stops_the_upgrade_before_anything_runs(  # type: ignore[no-untyped-def]
    engine, tmp_path: Path
) -> None:
    shutil.copytree(ROOT / "sql", tmp_path / "sql")
    (tmp_path / "sql" / "migrations" / "0999_probe.sql").write_text(
        "create table blc.changed_probe (x int);\n"
    )
    with engine.begin() as conn:
        recorded = conn.execute(
            sa.text("select checksum from blc.schema_migrations where version = '0009'")
        ).scalar_one()
        conn.execute(
            sa.text("update blc.schema_migrations set checksum = 'older-text' where version = '0009'")
        )
    try:
        with pytest.raises(
            MigrationChanged, match=r"migration 0009_curves\.sql was changed after it was applied"
        ):
            db.upgrade(engine, tmp_path / "sql")
        with engine.connect() as conn:
            probe = conn.execute(sa.text("select to_regclass('blc.changed_probe')")).scalar()
            versions = conn.execute(
                sa.text("select count(*) from blc.schema_migrations where version = '0999'")
            ).scalar()
    finally:
        with engine.begin() as conn:
            conn.execute(
                sa.text("update blc.schema_migrations set checksum = :c where version = '0009'"),
                {"c": recorded},
            )
            conn.execute(sa.text("drop table if exists blc.changed_probe"))
            conn.execute(sa.text("delete from blc.schema_migrations where version = '0999'"))

    assert probe is None and versions == 0  # the new migration after it was not applied either


def test_upgrading_a_current_database_applies_nothing_and_raises_nothing(engine) -> None:  # type: ignore[no-untyped-def]
    assert db.upgrade(engine, ROOT / "sql") == []  # migrated from these very files at session start
