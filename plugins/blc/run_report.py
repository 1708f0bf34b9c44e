"""What a watch run did, file by file, read back from the ledger: the lines its last task logs and the
verdict that decides the run's colour (docs/adr/0007).

The ledger, not the tasks' return values, is the witness: a task that failed or was killed returns nothing,
but the file's ledger row still says how far it got.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import PurePosixPath
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import Engine

from blc import db

#: Outcomes that make a run end failed.
BAD_OUTCOMES = ("quarantined", "failed", "unfinished", "unreadable")


@dataclass(frozen=True)
class FileLine:
    outcome: str  # loaded | skipped | quarantined | failed | unfinished | unreadable
    name: str
    detail: str
    #: An unreadable entry already reported by an earlier run: a warning, not a failure.
    known: bool = False

    @property
    def bad(self) -> bool:
        return self.outcome in BAD_OUTCOMES and not self.known

    def __str__(self) -> str:
        return f"{self.outcome:<11} {self.name}: {self.detail}"


@dataclass(frozen=True)
class RunReport:
    lines: tuple[FileLine, ...]
    redash_failed: bool = False

    @property
    def failed(self) -> bool:
        return any(line.bad for line in self.lines)  # a failed Redash refresh is a warning only

    def summary(self) -> str:
        counts: dict[str, int] = {}
        for line in self.lines:
            counts[line.outcome] = counts.get(line.outcome, 0) + 1
        if not counts:
            return "no new files"
        return ", ".join(f"{n} {outcome}" for outcome, n in counts.items())


def build_report(
    engine: Engine,
    uris: Iterable[str],
    *,
    new_unreadable: Iterable[str] = (),
    redash_failed: bool = False,
) -> RunReport:
    """One line per offered URI (its newest ledger row), then the unreadable entries of the watched
    folders: those this run's discovery found first (`new_unreadable`) are failures, older ones warnings."""
    uris = list(dict.fromkeys(uris))
    first_seen_now = set(new_unreadable)
    lines: list[FileLine] = []
    with engine.connect() as conn:
        rows = {
            row.uri: row
            for row in conn.execute(
                sa.text(db.load_sql("run_report/newest_ledger_rows")),
                {"uris": uris},
            )
        }
        for uri in uris:
            lines.append(_file_line(uri, rows.get(uri)))
        for entry in conn.execute(sa.text("select uri, error from blc.unreadable_entry order by uri")):
            new = entry.uri in first_seen_now
            detail = f"cannot be read ({entry.error}); skipped" + ("" if new else " (reported before)")
            lines.append(FileLine("unreadable", PurePosixPath(entry.uri).name, detail, known=not new))
    return RunReport(tuple(lines), redash_failed)


def _file_line(uri: str, row: Any) -> FileLine:
    name = PurePosixPath(uri).name
    if row is None or row.status is None:
        if uri.startswith("s3://") and not (row is not None and row.fetched):
            return FileLine("unfinished", name, "not fetched (see ingest_files); the next run tries again")
        return FileLine("skipped", name, "same content as a file already in the ledger")
    if row.ledger_uri != uri:
        return FileLine(
            "skipped", name, f"same content as {PurePosixPath(row.ledger_uri).name}, not loaded twice"
        )
    status = row.status
    if status == "processed":
        warnings = list(row.warnings or [])
        detail = f"cell {row.cell_id}: {row.rows} rows, {row.cycles} cycles"
        if warnings:
            detail += f"; warning: {'; '.join(warnings)}"
        return FileLine("loaded", name, detail)
    if status == "quarantined":
        return FileLine("quarantined", name, _without_name(row.error or "", name))
    if status == "failed":
        return FileLine("failed", name, _without_name(row.error or "", name))
    if status == "superseded":
        return FileLine("skipped", name, "an older version of a file whose newer content is loaded")
    detail = {
        "loaded": "loaded, but its statistics were not computed; the next run does it",
        "ingesting": "its ingest stopped without finishing; the next run tries again",
    }.get(status, f"not ingested (ledger: {status}); the next run tries again")
    return FileLine("unfinished", name, detail)


def _without_name(reason: str, name: str) -> str:
    prefix = f"{name}: "
    return reason[len(prefix) :] if reason.startswith(prefix) else reason
