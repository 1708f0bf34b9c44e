"""Read-side queries of the ``blc`` command line: the ledger (``blc files``) and one file's entry in it
(``blc status``). The SQL lives in sql/queries/; values go in as bind parameters.

pandas and SQLAlchemy are imported inside the functions: the CLI imports this module to parse its
arguments, before the ingest's warm-up (blc.validation.warm_up) that must start first.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, unquote, urlsplit

if TYPE_CHECKING:
    import pandas as pd
    from sqlalchemy.engine import Connection, Engine

#: Every status `blc files` can show: the ledger's (sql/migrations/0001_core.sql) and `unreadable`, an
#: entry of a watched folder that could not be read (blc.unreadable_entry).
STATUSES = (
    "discovered",
    "stable",
    "ingesting",
    "loaded",
    "processed",
    "quarantined",
    "failed",
    "superseded",
    "unreadable",
)
#: Columns of `list_files` (and of each entry of `file_status`), in this order; `file` is the URI's name.
LEDGER_COLUMNS = (
    "file",
    "uri",
    "file_id",
    "cell",
    "format",
    "status",
    "rows",
    "first_seen",
    "loaded_at",
    "updated_at",
    "reason",
    "sha256",
    "size_bytes",
    "attempts",
    "parser_version",
    "cycle_rule",
    "warnings",
)
_INTEGER_COLUMNS = ("file_id", "rows", "size_bytes", "attempts")
#: Failed expectations `file_status` keeps from a validation result.
MAX_FINDINGS = 5


def file_name(uri: str) -> str:
    """The last segment of a URI, decoded (``file:///d/a%20b.csv`` → ``a b.csv``)."""
    path = unquote(urlsplit(uri).path) if "://" in uri else uri
    return path.rstrip("/").rsplit("/", 1)[-1] or uri


def list_files(engine: Engine, status: str | None = None) -> pd.DataFrame:
    """The ledger, newest first (the row changed last, then the highest file_id), with the unreadable
    entries of the watched folders (status 'unreadable', no file_id): `LEDGER_COLUMNS`. `status` filters."""
    if status is not None and status not in STATUSES:
        raise ValueError(f"unknown status {status!r} (one of {', '.join(STATUSES)})")
    with engine.connect() as conn:
        return _ledger(conn, status=status)


@dataclass(frozen=True)
class FileStatus:
    """One file's ledger entry, as `blc status` shows it."""

    #: The entry: `LEDGER_COLUMNS` (the newest content at its URI, or the URI's unreadable entry).
    entry: dict[str, Any]
    #: Cycles of the file's cell in blc.cycle_stats, once the file is processed; else None.
    cycles: int | None = None
    #: The file's latest validation result: stage, suite, success, evaluated, at, and `findings` (up to
    #: MAX_FINDINGS failed expectations, each {"rule", "line", "column"}) and `more_findings` (the rest's
    #: count). None when the file was never validated.
    validation: dict[str, Any] | None = None
    #: Other contents seen at the same URI (earlier versions): file_id and status, newest first.
    other_versions: list[dict[str, Any]] = field(default_factory=list)


class AmbiguousFile(LookupError):
    """Several files in the ledger share the name given; `candidates` are their newest entries."""

    def __init__(self, key: str, candidates: list[dict[str, Any]]) -> None:
        super().__init__(f"{len(candidates)} files named {key!r} in the ledger")
        self.key = key
        self.candidates = candidates


def file_status(engine: Engine, key: str, *, cwd: Path | None = None) -> FileStatus | None:
    """One file's entry, found by `key`: a file_id (digits), an exact URI, a path (absolute, or relative to
    `cwd`, as the ingest turns it into a file:// URI), or a file name. None when nothing matches; raises
    AmbiguousFile when a name is shared by several URIs. Of several contents at one URI the newest is
    shown, the others listed in `other_versions`."""
    with engine.connect() as conn:
        rows = _lookup(conn, key, cwd or Path.cwd())
        if not rows:
            return None
        by_uri: dict[str, list[dict[str, Any]]] = {}
        for row in rows:
            by_uri.setdefault(row["uri"], []).append(row)
        if len(by_uri) > 1:
            raise AmbiguousFile(key, [_current(versions) for versions in by_uri.values()])
        versions = next(iter(by_uri.values()))
        entry = _current(versions)
        others = [
            {"file_id": row["file_id"], "status": row["status"]}
            for row in sorted(versions, key=lambda r: r["file_id"] or 0, reverse=True)
            if row is not entry and row["file_id"] is not None
        ]
        if entry["file_id"] is None:  # an unreadable entry: nothing else is known of it
            return FileStatus(entry, other_versions=others)
        return FileStatus(
            entry,
            cycles=_cell_cycles(conn, entry["cell"]) if entry["status"] == "processed" else None,
            validation=_latest_validation(conn, int(entry["file_id"])),
            other_versions=others,
        )


# --- helpers --------------------------------------------------------------------------------------------


def _ledger(
    conn: Connection,
    *,
    status: str | None = None,
    file_id: int | None = None,
    uris: Sequence[str] | None = None,
    names: Sequence[str] | None = None,
) -> pd.DataFrame:
    import pandas as pd
    import sqlalchemy as sa

    from blc import db

    frame = pd.read_sql(
        sa.text(db.load_sql("queries/ledger")),
        conn,
        params={
            "status": status,
            "file_id": file_id,
            "uris": list(uris) if uris else None,
            "names": list(names) if names else None,
        },
    )
    frame.insert(0, "file", [file_name(uri) for uri in frame["uri"]])
    for column in _INTEGER_COLUMNS:
        frame[column] = frame[column].astype("Int64")
    for column in ("first_seen", "loaded_at", "updated_at"):
        frame[column] = pd.to_datetime(frame[column], utc=True)
    frame["warnings"] = [list(value) if isinstance(value, list) else [] for value in frame["warnings"]]
    return frame[list(LEDGER_COLUMNS)]


def _records(frame: pd.DataFrame) -> list[dict[str, Any]]:
    """Rows as dicts of plain values, missing values as None."""
    import pandas as pd

    records: list[dict[str, Any]] = []
    for row in frame.to_dict(orient="records"):
        record: dict[str, Any] = {}
        for name, value in row.items():
            if isinstance(value, list):
                record[str(name)] = value
            elif value is None or pd.isna(value):
                record[str(name)] = None
            elif hasattr(value, "item") and not isinstance(value, pd.Timestamp):
                record[str(name)] = value.item()  # numpy scalar → int/float
            else:
                record[str(name)] = value
        records.append(record)
    return records


def _lookup(conn: Connection, key: str, cwd: Path) -> list[dict[str, Any]]:
    """Rows matching `key`, by the first rule that finds any: file_id, URI or path, file name."""
    if key.isdigit():
        rows = _records(_ledger(conn, file_id=int(key)))
        if rows:
            return rows
    uris = [key]
    if "://" not in key:
        path = cwd / Path(key).expanduser()
        # The ingest stores the resolved path's URI; an unreadable entry its absolute path's.
        uris += [path.resolve().as_uri(), Path(_normalize(path)).as_uri()]
    rows = _records(_ledger(conn, uris=list(dict.fromkeys(uris))))
    if rows or "/" in key:
        return rows
    return _records(_ledger(conn, names=list(dict.fromkeys([key, quote(key)]))))


def _normalize(path: Path) -> str:
    return os.path.normpath(path.absolute())


def _current(versions: list[dict[str, Any]]) -> dict[str, Any]:
    """Of one URI's rows: its unreadable entry if it has one (the path's state now), else the newest
    content (the highest file_id)."""
    unreadable = [row for row in versions if row["file_id"] is None]
    if unreadable:
        return unreadable[0]
    return max(versions, key=lambda row: int(row["file_id"]))


def _cell_cycles(conn: Connection, cell_id: str | None) -> int | None:
    import sqlalchemy as sa

    if cell_id is None:
        return None
    count = conn.execute(
        sa.text("select count(*) from blc.cycle_stats where cell_id = :cell"), {"cell": cell_id}
    ).scalar()
    return int(count or 0)


def _latest_validation(conn: Connection, file_id: int) -> dict[str, Any] | None:
    import sqlalchemy as sa

    row = conn.execute(
        sa.text(
            "select stage, suite, success, evaluated, failed_expectations, at, report_uri"
            " from blc.validation_result"
            " where file_id = :id order by at desc, validation_id desc limit 1"
        ),
        {"id": file_id},
    ).first()
    if row is None:
        return None
    failed = [item for item in (row.failed_expectations or []) if isinstance(item, dict)]
    return {
        "stage": row.stage,
        "suite": row.suite,
        "success": bool(row.success),
        "evaluated": row.evaluated,
        "at": row.at,
        "report_uri": row.report_uri,
        "findings": [_finding(item) for item in failed[:MAX_FINDINGS]],
        "more_findings": max(len(failed) - MAX_FINDINGS, 0),
    }


def _finding(item: dict[str, Any]) -> dict[str, Any]:
    """A failed expectation as stored by the pipeline, either a parse error ({rule, line, error}) or a
    suite's FailedExpectation.as_dict() ({rule, column, first_rows, unexpected_count, …})."""
    line = item.get("line")
    if line is None and item.get("first_rows"):
        line = item["first_rows"][0]
    return {
        "rule": str(item.get("rule") or item.get("expectation") or item.get("error") or "?"),
        "severity": str(item.get("severity") or "error"),
        "line": line,
        "column": item.get("column"),
        "unexpected_count": item.get("unexpected_count"),
    }


# --- cells and their results (blc cells/cycles/fade/impedance, the demo, the reprocess DAG) -------------


def cell_overview(engine: Engine) -> pd.DataFrame:
    """Every cell with its project and fade summary (sql/queries/cell_overview.sql)."""
    return _frame(engine, "queries/cell_overview")


def cycle_table(engine: Engine, cell_id: str) -> pd.DataFrame:
    """A cell's per-cycle statistics with the vendor's own summary beside (sql/queries/cycle_table.sql)."""
    return _frame(engine, "queries/cycle_table", cell_id=cell_id)


def impedance_table(engine: Engine, cell_id: str) -> pd.DataFrame:
    """A cell's impedance spectra, one row per point, sweeps numbered through the cell; cycle and test time
    stitched (sql/queries/impedance_table.sql)."""
    return _frame(engine, "queries/impedance_table", cell_id=cell_id)


def fade_table(engine: Engine, cell_id: str) -> pd.DataFrame:
    import pandas as pd
    import sqlalchemy as sa

    with engine.connect() as conn:
        return pd.read_sql(
            sa.text("select * from blc.capacity_fade where cell_id = :c order by cycle_index"),
            conn,
            params={"c": cell_id},
        )


def unknown_cells(engine: Engine, cell_ids: list[str]) -> list[str]:
    """Those of `cell_ids` the database has no cell for, in the order given."""
    import sqlalchemy as sa

    with engine.connect() as conn:
        known = set(
            conn.execute(
                sa.text("select cell_id from blc.cell where cell_id = any(:ids)"), {"ids": cell_ids}
            ).scalars()
        )
    return [cell for cell in dict.fromkeys(cell_ids) if cell not in known]


def cells_to_reprocess(
    engine: Engine, *, every: bool = False, project: str | None = None, since: str | None = None
) -> list[str]:
    """Cells with loaded files: all of them (`every`), or those whose statistics (per file, per cycle or
    summary) are missing or of another processor version; of one `project` only, and only those with a file
    loaded at or after `since` (an ISO date or timestamp) when given (sql/queries/cells_to_reprocess.sql).
    An unknown project or a `since` that is no date is BadSelection."""
    import sqlalchemy as sa

    from blc import db
    from processors.cycle_stats import PROCESSOR_VERSION

    when = _timestamp(since) if since else None
    with engine.connect() as conn:
        if (
            project
            and conn.execute(
                sa.text("select 1 from blc.project where name = :name"), {"name": project}
            ).first()
            is None
        ):
            raise BadSelection(f"no project {project!r} (see `blc cells`)")
        rows = conn.execute(
            sa.text(db.load_sql("queries/cells_to_reprocess")),
            {"every": every, "version": PROCESSOR_VERSION, "project": project or None, "since": when},
        ).scalars()
        return [str(cell) for cell in rows]


class BadSelection(ValueError):
    """A reprocessing selection that names nothing: an unknown project, a `since` that is no date."""


def _timestamp(text: str) -> str:
    from datetime import UTC, datetime

    try:
        value = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    except ValueError:
        raise BadSelection(
            f"since {text!r} is not a date (expected e.g. 2026-11-30 or 2026-11-30T08:00)"
        ) from None
    return (value if value.tzinfo else value.replace(tzinfo=UTC)).isoformat()


def _frame(engine: Engine, sql_name: str, **params: Any) -> pd.DataFrame:
    import pandas as pd
    import sqlalchemy as sa

    from blc import db

    with engine.connect() as conn:
        return pd.read_sql(sa.text(db.load_sql(sql_name)), conn, params=params)
