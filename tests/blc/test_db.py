"""Migrations against a real Postgres."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from blc import db

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
