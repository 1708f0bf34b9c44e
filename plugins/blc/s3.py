"""Cycler files in S3 buckets (and S3-compatible stores): listing a prefix, fetching one object.

A file is named by its URI, ``s3://bucket/key``, in the ledger as everywhere else. Reading it means fetching
it into a private temporary folder (streamed, never held in memory, refused above `MAX_OBJECT_BYTES`) under a
name made from the key's last segment and nothing else: a key with ``../``, an absolute path or odd bytes
never reaches outside that folder. The sidecars a share file would have beside it (``<name>.meta.yaml``,
``<stem>_Metadata.csv``, ``cells.csv``, a mapping) are fetched beside it when the bucket has them, so the
metadata rules are the same for both sources.

The client: inside Airflow, or when ``AIRFLOW_CONN_<ID>`` is set, the Amazon provider's `S3Hook` with the
connection `Settings.s3_conn_id` (``blc_s3``; ``aws`` type, ``endpoint_url`` in its extras for an
S3-compatible store); otherwise boto3's own chain (``AWS_ACCESS_KEY_ID``, ``AWS_SECRET_ACCESS_KEY``,
``AWS_ENDPOINT_URL``, ``AWS_DEFAULT_REGION``, profiles).
"""

from __future__ import annotations

import errno
import os
import re
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path, PurePosixPath
from typing import Any

#: The largest object fetched (a cycler export of a few GB is large; tens of GB is not a cycler file).
MAX_OBJECT_BYTES = 20 << 30
_SAFE = re.compile(r"[^A-Za-z0-9._-]+")


class S3Unavailable(ConnectionError):
    """The S3 endpoint cannot be reached or refuses our credentials: infrastructure, retried later."""


@dataclass(frozen=True)
class S3Uri:
    bucket: str
    key: str

    @classmethod
    def parse(cls, uri: str) -> S3Uri:
        if not uri.startswith("s3://"):
            raise ValueError(f"{uri!r} is not an s3:// URI")
        bucket, _, key = uri[len("s3://") :].partition("/")
        if len(bucket) < 3 or "/" in bucket or not re.fullmatch(r"[a-z0-9][a-z0-9.-]*[a-z0-9]", bucket):
            raise ValueError(f"{uri!r}: {bucket!r} is not a bucket name")
        return cls(bucket, key)

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.key}"

    @property
    def name(self) -> str:
        return PurePosixPath(self.key).name

    def sibling(self, name: str) -> S3Uri:
        parent = self.key.rsplit("/", 1)[0] + "/" if "/" in self.key else ""
        return S3Uri(self.bucket, parent + name)


def safe_name(key: str) -> str:
    """A local file name for an object: its key's last segment with anything but letters, digits, ``.``,
    ``_`` and ``-`` replaced; never empty, ``.`` or ``..``."""
    name = _SAFE.sub("_", PurePosixPath(key.replace("\\", "/")).name).strip(".")
    return name or "object"


def client(conn_id: str = "blc_s3") -> Any:
    """A boto3 S3 client: the Airflow connection `conn_id` when one is configured, else boto3's chain."""
    in_task = bool(os.environ.get("AIRFLOW_CTX_DAG_ID"))
    if in_task or os.environ.get(f"AIRFLOW_CONN_{conn_id.upper()}"):
        from airflow.providers.amazon.aws.hooks.s3 import S3Hook

        return S3Hook(aws_conn_id=conn_id).get_conn()
    import boto3

    return boto3.client("s3")


@dataclass(frozen=True)
class S3Object:
    """One object of a listing: what the watcher judges stability by, without reading it."""

    uri: S3Uri
    size_bytes: int
    etag: str
    #: LastModified, seconds since the epoch.
    modified: float


def list_objects(s3: Any, prefix: S3Uri) -> Iterator[S3Object]:
    """Every object under the prefix, in key order."""
    try:
        pages = s3.get_paginator("list_objects_v2").paginate(Bucket=prefix.bucket, Prefix=prefix.key)
        for page in pages:
            for item in page.get("Contents", []):
                yield S3Object(
                    S3Uri(prefix.bucket, item["Key"]),
                    int(item["Size"]),
                    _etag(item["ETag"]),
                    item["LastModified"].timestamp(),
                )
    except Exception as exc:
        raise _translated(exc, str(prefix)) from exc


def _etag(raw: object) -> str:
    return "s3:" + str(raw).strip('"')


#: The sidecars a file may have beside it, by its name and stem (connectors/sidecars.py reads them).
def _sidecar_names(name: str) -> list[str]:
    stem = name.rsplit(".", 1)[0]
    return [
        f"{name}.meta.yaml",
        f"{name}.meta.yml",
        f"{name}.meta.json",
        f"{stem}.meta.yaml",
        f"{stem}.meta.yml",
        f"{stem}.meta.json",
        f"{stem}_Metadata.csv",
        f"{stem}_metadata.csv",
        f"{name}.mapping.yaml",
        "cells.csv",
        "blc-mapping.yaml",
    ]


@dataclass(frozen=True)
class Fetched:
    path: Path
    #: The ETag of the version fetched ("s3:" + S3's ETag), the ledger's `etag` for the object.
    etag: str


def fetch_object(s3: Any, uri: S3Uri, folder: Path) -> Fetched:
    """Fetch the object (and its sidecars) into `folder`: its local copy and the ETag of what was read."""
    path = folder / safe_name(uri.key)
    try:
        head = s3.head_object(Bucket=uri.bucket, Key=uri.key)
    except Exception as exc:
        raise _translated(exc, str(uri)) from exc
    size = int(head.get("ContentLength", 0))
    if size > MAX_OBJECT_BYTES:
        raise ValueError(f"{uri}: {size} bytes, above the {MAX_OBJECT_BYTES} bytes an object may have")
    etag = _download(s3, uri, path)
    for name in _sidecar_names(uri.name):
        sidecar = uri.sibling(name)
        if sidecar.key == uri.key or safe_name(name) == path.name:
            continue
        try:
            _download(s3, sidecar, folder / safe_name(name))
        except FileNotFoundError:
            continue
    return Fetched(path, etag)


def _download(s3: Any, uri: S3Uri, path: Path) -> str:
    """Stream the object into `path`; the ETag of the version read."""
    try:
        got = s3.get_object(Bucket=uri.bucket, Key=uri.key)
        body = got["Body"]
        with path.open("wb") as handle:
            written = 0
            for block in body.iter_chunks(1 << 20):
                written += len(block)
                if written > MAX_OBJECT_BYTES:
                    raise ValueError(f"{uri}: larger than {MAX_OBJECT_BYTES} bytes")
                handle.write(block)
        return _etag(got.get("ETag", ""))
    except (ValueError, OSError) as exc:
        if isinstance(exc, ConnectionError):
            raise S3Unavailable(f"{uri}: {exc}") from exc
        raise
    except Exception as exc:
        raise _translated(exc, str(uri)) from exc


def _translated(exc: Exception, what: str) -> Exception:
    """botocore's errors as ours: a missing bucket or key is FileNotFoundError (the file is gone), a refused
    credential or an unreachable endpoint is S3Unavailable (infrastructure)."""
    response = getattr(exc, "response", None)
    code = str((response or {}).get("Error", {}).get("Code", "")) if isinstance(response, dict) else ""
    if code in ("404", "NoSuchKey", "NoSuchBucket", "NotFound"):
        return FileNotFoundError(errno.ENOENT, "no such object", what)
    if code:
        return S3Unavailable(f"{what}: S3 refused the request ({code})")
    return S3Unavailable(f"{what}: S3 unreachable ({type(exc).__name__}: {exc})")
