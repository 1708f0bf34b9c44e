"""`blc airflow dags test blc_watch` watching a share folder and an S3 prefix of a real S3 server
(SeaweedFS) at once, with no settle window: every new file of both sources is ingested exactly once, a
second run ingests nothing, and a new version of an object is taken up by the run after it changed."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
from collections.abc import Iterator
from pathlib import Path

import boto3
import pytest
import sqlalchemy as sa

from tests.s3server import S3Server, running

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
BLC = str(ROOT / ".venv" / "bin" / "blc")
DATA = ROOT / "tests" / "data"
BUCKET = "lab-drops"
#: Lines of FastCharge_000025_CH8.csv (248 rows) in the object's first version: the header and 119 rows.
FIRST_PART = 120


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with running(tmp_path_factory.mktemp("weed")) as server:
        _client(server).create_bucket(Bucket=BUCKET)
        yield server


def _client(server: S3Server):  # type: ignore[no-untyped-def]
    env = server.env()
    return boto3.client(
        "s3",
        endpoint_url=env["AWS_ENDPOINT_URL"],
        aws_access_key_id=env["AWS_ACCESS_KEY_ID"],
        aws_secret_access_key=env["AWS_SECRET_ACCESS_KEY"],
        region_name=env["AWS_DEFAULT_REGION"],
    )


def _connection(server: S3Server) -> str:
    """The `blc_s3` Airflow connection as an operator would define it (aws type, endpoint in extras)."""
    env = server.env()
    return json.dumps(
        {
            "conn_type": "aws",
            "login": env["AWS_ACCESS_KEY_ID"],
            "password": env["AWS_SECRET_ACCESS_KEY"],
            "extra": {"endpoint_url": server.endpoint, "region_name": "us-east-1"},
        }
    )


def _watch(env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BLC, "airflow", "dags", "test", "blc_watch"], capture_output=True, text=True, timeout=600, env=env
    )


def _ledger(engine) -> dict[str, tuple[str, int, int]]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = conn.execute(sa.text("select uri, status, rows, attempts from blc.source_file")).all()
    return {row.uri.rsplit("/", 1)[-1]: (row.status, row.rows, row.attempts) for row in rows}


def test_share_and_bucket_each_new_file_once_then_nothing(  # type: ignore[no-untyped-def]
    engine, blc_env: Path, s3_server: S3Server, tmp_path: Path
) -> None:
    s3 = _client(s3_server)
    prefix = f"w{os.getpid()}/"
    fast = (DATA / "arbin" / "FastCharge_000025_CH8.csv").read_bytes().splitlines(keepends=True)
    shutil.copy2(DATA / "arbin" / "arbin_example.csv", blc_env / "arbin_example.csv")
    s3.put_object(
        Bucket=BUCKET, Key=f"{prefix}maccor_001.txt", Body=(DATA / "maccor" / "maccor_001.txt").read_bytes()
    )
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}maccor_001.txt.meta.yaml", Body=b"cell_id: M-001\n")
    s3.put_object(
        Bucket=BUCKET,
        Key=f"{prefix}bench/FastCharge_000025_CH8.csv",
        Body=b"".join(fast[:FIRST_PART]),  # the cycler has written this much so far
    )
    # the share file's bytes under a second name in the bucket: one content, loaded once
    s3.put_object(
        Bucket=BUCKET,
        Key=f"{prefix}copy_of_arbin.csv",
        Body=(DATA / "arbin" / "arbin_example.csv").read_bytes(),
    )
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "AWS_"))}
    env.update(
        BLC_HOME=str(tmp_path / "home"),
        AIRFLOW_HOME=str(tmp_path / "airflow"),
        BLC_S3_URIS=f"s3://{BUCKET}/{prefix}",
        BLC_SETTLE_SECONDS="0",
        AIRFLOW_CONN_BLC_S3=_connection(s3_server),
    )

    first = _watch(env)

    assert first.returncode == 0, first.stdout[-3000:] + first.stderr[-3000:]
    ledger = _ledger(engine)
    # one content, two names offered in one run: whichever task came first loaded it, the other skipped
    arbin_name = next(n for n in ("arbin_example.csv", "copy_of_arbin.csv") if n in ledger)
    assert ledger == {
        arbin_name: ("processed", 2142, 1),
        "maccor_001.txt": ("processed", _rows(DATA / "maccor" / "maccor_001.txt"), 1),
        "FastCharge_000025_CH8.csv": ("processed", FIRST_PART - 1, 1),
    }
    with engine.connect() as conn:
        cells = set(conn.execute(sa.text("select cell_id from blc.cell")).scalars())
        fetched = dict(conn.execute(sa.text("select uri, fetched_at from blc.s3_object")).all())
    assert cells == {arbin_name.removesuffix(".csv"), "M-001", "FastCharge_000025_CH8"}  # sidecar: M-001
    assert len(fetched) == 3  # the copy was fetched once, found to be known content, and remembered

    second = _watch(env)

    assert second.returncode == 0, second.stdout[-3000:] + second.stderr[-3000:]
    assert "discovered 0 file(s) to ingest" in second.stdout + second.stderr
    assert {name: status for name, (status, _, attempts) in _ledger(engine).items()} == {
        arbin_name: "processed",
        "maccor_001.txt": "processed",
        "FastCharge_000025_CH8.csv": "processed",
    }
    with engine.connect() as conn:
        again = dict(conn.execute(sa.text("select uri, fetched_at from blc.s3_object")).all())
    assert again == fetched  # nothing was fetched again

    # the object grew (the cycler's export uploaded again with more rows): the next run appends the rest
    s3.put_object(Bucket=BUCKET, Key=f"{prefix}bench/FastCharge_000025_CH8.csv", Body=b"".join(fast))

    third = _watch(env)

    assert third.returncode == 0, third.stdout[-3000:] + third.stderr[-3000:]
    assert "discovered 1 file(s) to ingest" in third.stdout + third.stderr
    full = _rows(DATA / "arbin" / "FastCharge_000025_CH8.csv")
    assert _ledger(engine)["FastCharge_000025_CH8.csv"] == ("processed", full, 1)
    with engine.connect() as conn:
        stored = conn.execute(
            sa.text(
                "select count(*), count(distinct record_index) from blc.timeseries"
                " where cell_id = 'FastCharge_000025_CH8'"
            )
        ).one()
    assert tuple(stored) == (full, full)  # the first part once, the rest appended


def _rows(path: Path) -> int:
    """Data rows of a cycler export, counted independently: lines after the header that start with a digit
    (Maccor and Arbin rows begin with their record or data-point number)."""
    lines = path.read_text(errors="replace").splitlines()
    return sum(1 for line in lines[1:] if line[:1].isdigit())


def test_an_unreachable_bucket_is_reported_and_the_share_still_goes_through(  # type: ignore[no-untyped-def]
    engine, blc_env: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from blc.discover import discover_files
    from blc.run_report import build_report

    shutil.copy2(DATA / "arbin" / "arbin_example.csv", blc_env / "arbin_example.csv")
    for name, value in S3Server("http://127.0.0.1:9").env().items():  # nothing listens on port 9
        monkeypatch.setenv(name, value)
    monkeypatch.setenv("AWS_MAX_ATTEMPTS", "1")
    monkeypatch.setenv("BLC_S3_URIS", f"s3://{BUCKET}/drops/")

    found = discover_files()
    again = discover_files()

    assert [uri.rsplit("/", 1)[-1] for uri in found.uris] == ["arbin_example.csv"]
    assert list(found.unreadable) == [f"s3://{BUCKET}/drops/"]
    assert "S3 unreachable" in found.unreadable[f"s3://{BUCKET}/drops/"]
    assert found.new_unreadable == [f"s3://{BUCKET}/drops/"] and again.new_unreadable == []
    line = build_report(engine, [], new_unreadable=found.new_unreadable).lines[0]
    assert line.outcome == "unreadable" and line.bad
