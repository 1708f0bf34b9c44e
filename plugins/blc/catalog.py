"""What a loaded file adds beside its samples: its project and cell, its validation result, and the
vendor's own per-cycle summary when one lies beside it."""

from __future__ import annotations

import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Connection

from blc import db
from connectors import companions
from connectors.errors import CorruptFile

log = logging.getLogger(__name__)


def vendor_summary_beside(path: Path, format_name: str) -> companions.VendorSummary | None:
    """The vendor's per-cycle summary beside the file. Only a cross-check: an unreadable one is logged and
    left out, it never holds the time series back."""
    try:
        return companions.summary_beside(path, format_name)
    except CorruptFile as exc:
        log.warning("%s: vendor cycle summary left out: %s", path.name, exc)
        return None


def store_vendor_summary(
    conn: Connection, file_id: int, summary: companions.VendorSummary, has_counter: bool
) -> None:
    """Store the vendor's cycles, each on our cycle where its cycle_count first appears in the samples just
    loaded (a file without a counter: the vendor's number is taken as ours)."""
    frame = summary.frame.copy()
    if has_counter:
        first: dict[int, int] = dict(
            conn.execute(
                sa.text(db.load_sql("catalog/first_cycle_of_counts")),
                {"file": file_id},
            ).all()
        )
        frame["cycle_index"] = frame["cycle_count"].map(first).astype("Int64")
    else:
        frame["cycle_index"] = frame["cycle_count"].astype("Int64")
    db.copy_frame(
        conn,
        "blc.vendor_cycle_summary",
        frame,
        ["file_id", "source_name", *companions.SUMMARY_COLUMNS, "cycle_index"],
        constants={"file_id": file_id, "source_name": summary.source},
    )


def record_validation(
    conn: Connection,
    file_id: int,
    stage: str,
    suite: str,
    *,
    success: bool,
    failed: list[dict[str, Any]],
    evaluated: int | None = None,
    report_uri: str | None = None,
) -> None:
    conn.execute(
        sa.text(db.load_sql("catalog/record_validation")),
        {
            "file_id": file_id,
            "stage": stage,
            "suite": suite,
            "success": success,
            "evaluated": evaluated,
            "failed": json.dumps(failed, default=str),
            "report_uri": report_uri,
        },
    )


def ensure_project(conn: Connection, name: str) -> int:
    conn.execute(
        sa.text("insert into blc.project (name) values (:n) on conflict (name) do nothing"), {"n": name}
    )
    return int(
        conn.execute(sa.text("select project_id from blc.project where name = :n"), {"n": name}).scalar_one()
    )


def ensure_cell(
    conn: Connection, cell_id: str, project_id: int, format_name: str, file_metadata: Mapping[str, Any]
) -> None:
    metadata = {k: v for k, v in file_metadata.items() if isinstance(v, str | int | float | bool)}
    conn.execute(
        sa.text(db.load_sql("catalog/upsert_cell")),
        {
            "cell": cell_id,
            "project": project_id,
            "nominal": file_metadata.get("nominal_capacity_ah"),
            "tester": format_name.split("_")[0],
            **{
                key: file_metadata.get(key)
                for key in ("chemistry", "anode", "cathode", "form_factor", "source", "temperature_celsius")
            },
            "half_cell": file_metadata.get("half_cell")
            if isinstance(file_metadata.get("half_cell"), bool)
            else None,
            "metadata": json.dumps(metadata, default=str),
        },
    )
