"""`blc ingest s3://…` against a real S3 server (SeaweedFS): one object, a prefix, sidecars beside an
object, the same content again, a missing key, hostile keys, and the server gone."""

from __future__ import annotations

import os
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


@pytest.fixture(scope="module")
def s3_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[S3Server]:
    with running(tmp_path_factory.mktemp("weed")) as server:
        client = boto3.client("s3", **_client_args(server))
        client.create_bucket(Bucket=BUCKET)
        yield server


def _client_args(server: S3Server) -> dict[str, str]:
    env = server.env()
    return {
        "endpoint_url": env["AWS_ENDPOINT_URL"],
        "aws_access_key_id": env["AWS_ACCESS_KEY_ID"],
        "aws_secret_access_key": env["AWS_SECRET_ACCESS_KEY"],
        "region_name": env["AWS_DEFAULT_REGION"],
    }


@pytest.fixture
def bucket(s3_server: S3Server, blc_env: Path) -> Iterator[tuple[S3Server, str]]:
    """An empty folder of the bucket for one test."""
    client = boto3.client("s3", **_client_args(s3_server))
    prefix = f"t{os.getpid()}-{os.urandom(4).hex()}/"
    yield s3_server, prefix
    for item in client.list_objects_v2(Bucket=BUCKET, Prefix=prefix).get("Contents", []):
        client.delete_object(Bucket=BUCKET, Key=item["Key"])


def _put(server: S3Server, key: str, body: bytes) -> None:
    boto3.client("s3", **_client_args(server)).put_object(Bucket=BUCKET, Key=key, Body=body)


def _blc(server: S3Server | None, *args: str) -> subprocess.CompletedProcess[str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("AWS_")}
    if server is not None:
        env.update(server.env())
    return subprocess.run([BLC, *args], capture_output=True, text=True, timeout=300, env=env)


def test_an_object_loads_under_its_s3_uri_and_again_is_nothing_to_do(engine, bucket) -> None:  # type: ignore[no-untyped-def]
    server, prefix = bucket
    _put(server, f"{prefix}arbin_example.csv", (DATA / "arbin" / "arbin_example.csv").read_bytes())
    uri = f"s3://{BUCKET}/{prefix}arbin_example.csv"

    first = _blc(server, "ingest", uri)
    again = _blc(server, "ingest", uri)

    assert first.returncode == 0, first.stderr
    assert "loaded arbin_example.csv → cell arbin_example: 2142 rows, 2 cycles" in first.stdout
    assert again.returncode == 0 and "skipped arbin_example.csv: same content" in again.stdout
    with engine.connect() as conn:
        row = conn.execute(sa.text("select uri, status, rows from blc.source_file")).one()
    assert tuple(row) == (uri, "processed", 2142)


def test_a_prefix_ingests_its_objects_with_their_sidecars(engine, bucket) -> None:  # type: ignore[no-untyped-def]
    server, prefix = bucket
    _put(
        server,
        f"{prefix}run/FastCharge_000025_CH8.csv",
        (DATA / "arbin" / "FastCharge_000025_CH8.csv").read_bytes(),
    )
    _put(server, f"{prefix}run/maccor_001.txt", (DATA / "maccor" / "maccor_001.txt").read_bytes())
    _put(server, f"{prefix}run/maccor_001.txt.meta.yaml", b"cell_id: M-001\nnominal_capacity_ah: 4.5\n")

    done = _blc(server, "ingest", f"s3://{BUCKET}/{prefix}run/")

    assert done.returncode == 0, done.stderr
    with engine.connect() as conn:
        cells = dict(conn.execute(sa.text("select cell_id, nominal_capacity_ah from blc.cell")).all())
        files = conn.execute(sa.text("select count(*) from blc.source_file")).scalar_one()
    # the sidecar named the Maccor file's cell and capacity; it was not ingested as a file of its own
    assert cells == {"M-001": 4.5, "FastCharge_000025_CH8": None}
    assert files == 2


def test_a_missing_key_is_bad_input_and_a_gone_server_is_infrastructure(bucket) -> None:  # type: ignore[no-untyped-def]
    server, prefix = bucket
    missing = f"s3://{BUCKET}/{prefix}nothing.csv"

    gone = _blc(server, "ingest", missing)
    unreachable = _blc(None, "ingest", missing)  # no endpoint: boto3 would go to AWS; point it nowhere

    assert gone.returncode == 2
    assert gone.stderr.strip() == f"blc: {missing}: no such object"
    assert unreachable.returncode in (1, 2)
    assert "Traceback" not in unreachable.stderr


def test_a_server_that_does_not_answer_is_exit_1(bucket) -> None:  # type: ignore[no-untyped-def]
    _, prefix = bucket
    nowhere = S3Server("http://127.0.0.1:9")  # discard port: nothing listens

    done = _blc(nowhere, "ingest", f"s3://{BUCKET}/{prefix}a.csv")

    assert done.returncode == 1
    assert done.stderr.startswith(f"blc: s3://{BUCKET}/{prefix}a.csv: S3 unreachable")
    assert "check the S3 endpoint and credentials" in done.stderr and "Traceback" not in done.stderr


def test_odd_keys_load_under_a_safe_local_name(engine, bucket) -> None:  # type: ignore[no-untyped-def]
    server, prefix = bucket
    key = f"{prefix}odd/..%2F..%2Fevil name;$(rm -rf ~).csv"
    _put(server, key, (DATA / "arbin" / "FastCharge_000025_CH8.csv").read_bytes())

    done = _blc(server, "ingest", f"s3://{BUCKET}/{key}")

    assert done.returncode == 0, done.stderr
    with engine.connect() as conn:
        assert conn.execute(sa.text("select uri from blc.source_file")).scalar_one() == f"s3://{BUCKET}/{key}"


@pytest.mark.parametrize(
    ("key", "name"),
    [
        ("../../etc/passwd", "passwd"),
        ("a/b/..", "object"),
        ("/abs/path.csv", "path.csv"),
        ("x/..%2F..%2Fevil name.csv", "_2F.._2Fevil_name.csv"),  # ".." inside a name is no path step
        ("x\\..\\win.csv", "win.csv"),
        ("nul\x00byte\x1b.csv", "nul_byte_.csv"),
        ("", "object"),
    ],
)
def test_a_local_name_never_leaves_its_folder(key: str, name: str) -> None:
    from blc.s3 import safe_name

    assert safe_name(key) == name
