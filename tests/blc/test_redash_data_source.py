"""`blc redash sync` makes the Postgres data source Redash reads from (BLC_REDASH_DATA_SOURCE_URL), so a
fresh Redash needs nothing made by hand: created once, left alone while it matches, updated when the
address changes; its queries point at it; the password is sent, never printed."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from tests.fakes.redash_server import FakeRedashServer

pytestmark = pytest.mark.integration

URL = "postgresql://redash_reader:s3cret-pw@postgres:5432/blc"


def _sync(redash: FakeRedashServer, url: str) -> subprocess.CompletedProcess[str]:
    env = {
        **os.environ,
        "BLC_REDASH_URL": redash.url,
        "BLC_REDASH_API_KEY": redash.api_key,
        "BLC_REDASH_DATA_SOURCE_URL": url,
    }
    return subprocess.run(
        [str(Path(sys.executable).with_name("blc")), "redash", "sync"],
        capture_output=True,
        text=True,
        timeout=120,
        env=env,
    )


def test_sync_creates_the_data_source_once_and_updates_it_when_it_moves(blc_env: Path) -> None:
    with FakeRedashServer(data_sources=[]) as redash:
        first = _sync(redash, URL)
        second = _sync(redash, URL)
        moved = _sync(redash, URL.replace("@postgres:5432", "@db.lab.example:6432"))
        stored = dict(redash.data_sources)
        queries = list(redash.queries.values())

    for done in (first, second, moved):
        assert done.returncode == 0, done.stderr
        assert "s3cret-pw" not in done.stdout + done.stderr
    assert first.stdout.splitlines()[0] == "data source blc: created (id 1)"
    assert second.stdout.splitlines()[0] == "data source blc: unchanged (id 1)"
    assert moved.stdout.splitlines()[0] == "data source blc: updated (id 1)"
    assert list(stored) == [1]
    assert stored[1]["options"] == {
        "host": "db.lab.example",
        "port": 6432,
        "user": "redash_reader",
        "dbname": "blc",
        "password": "s3cret-pw",
    }
    assert queries and {q["data_source_id"] for q in queries} == {1}


def test_an_existing_source_of_another_name_is_left_alone(blc_env: Path) -> None:
    other = {"id": 7, "name": "warehouse", "type": "pg", "paused": 0, "pause_reason": None, "options": {}}
    with FakeRedashServer(data_sources=[other]) as redash:
        done = _sync(redash, URL)
        names = {ds["name"]: ds_id for ds_id, ds in redash.data_sources.items()}

    assert done.returncode == 0, done.stderr
    assert names == {"warehouse": 7, "blc": 8}
    assert done.stdout.splitlines()[0] == "data source blc: created (id 8)"
