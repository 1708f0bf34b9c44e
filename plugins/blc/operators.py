"""Thin Airflow operators over the pipeline steps, for our DAGs and for users' own DAGs.

Each stores its arguments, declares ``template_fields``, and makes one pipeline call in ``execute``;
settings and connections are read at run time, never at DAG parse time: the database and Redash are the
``blc_db`` and ``blc_redash`` connections (blc.connections), and the schema is checked, never migrated.
Return values are small and JSON-safe (XCom carries ids, URIs and counts, never frames).
"""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import PurePosixPath
from typing import Any

from airflow.sdk import BaseOperator
from airflow.sdk.exceptions import AirflowFailException

from blc.assets import CAPACITY_FADE, CYCLE_STATS, TIMESERIES


def _file_label(uri: str) -> str:
    return PurePosixPath(uri).name or uri


def transient(exc: BaseException) -> bool:
    """Whether a retry may help: the database, S3 or Redash could not be reached or failed on its side.
    A file's content, a missing file or a bug is never retried (the same input fails the same way)."""
    from blc.errors import is_infrastructure

    return is_infrastructure(exc) or bool(getattr(exc, "transient", False))


@contextmanager
def retried_only_when_transient() -> Iterator[None]:
    """Let transient errors through (Airflow retries them, with exponential backoff in our DAGs); turn
    every other error into AirflowFailException, which fails the task at once without retries."""
    try:
        yield
    except AirflowFailException:
        raise
    except Exception as exc:
        if transient(exc):
            raise
        from blc.errors import describe_exception

        raise AirflowFailException(describe_exception(exc)) from exc


def _emit(context: Any, assets: Iterable[Any], **extra: Any) -> None:
    """Say on the task's asset events what changed (users' DAGs scheduled on them read it)."""
    events = context.get("outlet_events")
    if events is None:
        return
    for asset in assets:
        events[asset].extra = extra


def as_list(values: Any) -> list[Any]:
    """A pulled XCom as a list, whatever the number of mapped instances behind it: Airflow hands a
    downstream task no value (None) for zero, the bare value for exactly one, and a sequence for several."""
    if values is None:
        return []
    if isinstance(values, Mapping | str | bytes):
        return [values]
    return list(values)


def _parallel_slots() -> int:
    """How many tasks may run at once on this deployment (the smaller of core.parallelism and the load
    pool's size): discovery makes at least that many batches when there are that many files."""
    import os

    parallelism = int(os.environ.get("AIRFLOW__CORE__PARALLELISM") or 4)
    return max(1, min(parallelism, int(os.environ.get("BLC_DB_LOAD_SLOTS") or 4)))


class DiscoverCyclerFilesOperator(BaseOperator):
    """List the share folders and S3 prefixes, keep files that stopped changing and are new to the ledger
    (or that an earlier ingest left unfinished); return their URIs, or with `batch` the URIs grouped for
    one task each (blc.discover.batched). Entries that cannot be read are logged and skipped; those seen for
    the first time are also pushed as XCom ``new_unreadable`` for the run's report."""

    template_fields: Sequence[str] = ("share_dirs",)

    def __init__(
        self, *, share_dirs: str | None = None, batch: bool = False, slots: int | None = None, **kwargs: Any
    ) -> None:
        super().__init__(**kwargs)
        self.share_dirs = share_dirs
        self.batch = batch
        self.slots = slots  # None: the deployment's, read when the task runs (_parallel_slots)

    def execute(self, context: Any) -> list[str] | list[list[str]]:
        import dataclasses
        from pathlib import Path

        from blc.discover import discover_files
        from blc.settings import get_settings

        settings = get_settings()
        if self.share_dirs:
            dirs = tuple(Path(p.strip()).resolve() for p in self.share_dirs.split(",") if p.strip())
            settings = dataclasses.replace(settings, share_dirs=dirs)
        with retried_only_when_transient():
            found = discover_files(settings)
        context["ti"].xcom_push(key="new_unreadable", value=found.new_unreadable)
        if not self.batch:
            return found.uris
        batches = found.batches(slots=self.slots or _parallel_slots())
        self.log.info("%d file(s) in %d task(s)", len(found.uris), len(batches))
        return batches


class CyclerFileIngestOperator(BaseOperator):
    """Parse, validate and publish one cycler file given by URI. A file that fails its checks is
    quarantined (ledger + validation_result) and the task fails without retrying: retrying cannot fix
    content. A file whose content is already in the ledger is a no-op. Only transient errors (database,
    S3) are retried. Its outlet is the `blc_timeseries` asset (event extra: file, cells, rows)."""

    template_fields: Sequence[str] = ("uri", "cell_id", "project", "format_name", "force")

    def __init__(
        self,
        *,
        uri: str,
        cell_id: str | None = None,
        project: str | None = None,
        format_name: str | None = None,
        force: bool | str = False,
        **kwargs: Any,
    ) -> None:
        kwargs.setdefault("outlets", [TIMESERIES])
        super().__init__(**kwargs)
        self.uri = uri
        self.cell_id = cell_id
        self.project = project
        self.format_name = format_name
        self.force = force

    def execute(self, context: Any) -> dict[str, Any]:
        from blc.ingest import publish_file

        context["file_label"] = _file_label(self.uri)  # names the mapped task instance in the UI
        # a file removed or renamed since it was offered (FileNotFoundError) is not retried either
        with retried_only_when_transient():
            outcome = publish_file(
                self.uri,
                cell_id=self.cell_id or None,
                project=self.project or None,
                format_name=self.format_name or None,
                force=_as_bool(self.force),  # a rendered template is a string
            )
        if outcome.status == "quarantined":
            raise AirflowFailException(f"quarantined {outcome.reason}")
        self.log.info("%s: %s (%s rows)", outcome.file_label, outcome.status, outcome.rows)
        _emit(
            context,
            [TIMESERIES],
            files=[outcome.file_label],
            cells=list(outcome.cells_to_process),
            rows=outcome.rows or 0,
        )
        return outcome.as_dict()


class IngestFilesOperator(BaseOperator):
    """Ingest a batch of cycler files (one or more, as discovery grouped them) in one task: for each file
    parse → validate → publish → recompute its cells' statistics and fade, before the next file. A task costs
    about a second of fixed cost, so small files share one; each file keeps its own ledger row, log lines
    and line in the run's report, and the UI labels the task with its first file's name (``+N more``).

    A file that is quarantined, gone, or fails for a reason of its own does not stop the others: the task
    fails at the end, naming each (no retry: the same input fails the same way). A transient error
    (database, S3) fails the task at once for a retry, which skips the files already done. The processed
    cells go to XCom ``results`` even when the task fails (the Redash refresh reads them), and to the
    events of its outlets (give them in ``partial()`` when mapping: a mapped task's outlets must be known
    when the DAG is parsed)."""

    template_fields: Sequence[str] = ("uris",)

    def __init__(self, *, uris: Iterable[str] | str | Any, **kwargs: Any) -> None:
        kwargs.setdefault("outlets", [TIMESERIES, CYCLE_STATS, CAPACITY_FADE])
        super().__init__(**kwargs)
        self.uris = uris

    def execute(self, context: Any) -> dict[str, Any]:
        from blc.ingest import ingest

        uris = [str(uri) for uri in as_list(self.uris)]
        labels = [_file_label(uri) for uri in uris]
        label = labels[0] + (f" +{len(labels) - 1} more" if len(labels) > 1 else "") if labels else "-"
        context["file_label"] = label  # names the mapped task instance in the UI
        cells: list[dict[str, Any]] = []
        files: list[dict[str, Any]] = []
        refused: list[str] = []
        rows = 0
        try:
            for uri, name in zip(uris, labels, strict=True):
                try:
                    with retried_only_when_transient():
                        outcome, processed = ingest(uri)
                except AirflowFailException as exc:  # the file's own problem (gone, a bug it triggers)
                    self.log.error("%s: %s", name, exc)
                    refused.append(f"{name}: {exc}")
                    continue
                cells += [cell.as_dict() for cell in processed]
                rows += outcome.rows or 0
                files.append({"file": name, "status": outcome.status, "rows": outcome.rows})
                if outcome.status == "quarantined":
                    self.log.error("quarantined %s", outcome.reason)
                    refused.append(f"quarantined {outcome.reason}")
                else:
                    self.log.info(
                        "%s: %s (%s rows) %s", name, outcome.status, outcome.rows, outcome.reason or ""
                    )
        finally:
            result = {"file_label": label, "files": files, "cells": cells}
            context["ti"].xcom_push(key="results", value=result)
        changed = sorted({cell["cell_id"] for cell in cells})
        _emit(context, [TIMESERIES], files=[f["file"] for f in files], cells=changed, rows=rows)
        _emit(context, [CYCLE_STATS, CAPACITY_FADE], cells=changed)
        if refused:
            more = f" (and {len(refused) - 3} more)" if len(refused) > 3 else ""
            raise AirflowFailException(
                f"{len(refused)} of {len(uris)} file(s) not loaded: " + "; ".join(refused[:3]) + more
            )
        return result


class CellProcessOperator(BaseOperator):
    """Recompute cycle statistics, capacity fade and the summary of the cells an ingest touched."""

    template_fields: Sequence[str] = ("outcome",)

    def __init__(self, *, outcome: dict[str, Any] | Any, **kwargs: Any) -> None:
        kwargs.setdefault("inlets", [TIMESERIES])
        kwargs.setdefault("outlets", [CYCLE_STATS, CAPACITY_FADE])
        super().__init__(**kwargs)
        self.outcome = outcome

    def execute(self, context: Any) -> dict[str, Any]:
        from blc.process import process_cell

        outcome = dict(self.outcome)
        context["file_label"] = outcome.get("file_label") or _file_label(outcome.get("uri", ""))
        cells = list(outcome.get("cells_to_process") or [])
        with retried_only_when_transient():
            results = [process_cell(cell).as_dict() for cell in cells]
        _emit(context, [CYCLE_STATS, CAPACITY_FADE], cells=cells)
        if not results:
            self.log.info("%s: %s, nothing to recompute", context["file_label"], outcome.get("status"))
        return {"file_label": context["file_label"], "status": outcome.get("status"), "cells": results}


class SelectCellsOperator(BaseOperator):
    """The cells a reprocessing run covers: the named ones, every cell (`every`), those of a `project` or
    with a file loaded at or after `since` (an ISO date), or by default those whose statistics are not of
    the current processor version. Returns cell ids (XCom: small)."""

    template_fields: Sequence[str] = ("cell_ids", "every", "project", "since")

    def __init__(
        self,
        *,
        cell_ids: Iterable[str] | str | None = None,
        every: bool | str = False,
        project: str | None = None,
        since: str | None = None,
        **kwargs: Any,
    ):
        super().__init__(**kwargs)
        self.cell_ids = cell_ids
        self.every = every
        self.project = project
        self.since = since

    def execute(self, context: Any) -> list[str]:
        from blc.db import engine_for
        from blc.queries import cells_to_reprocess, unknown_cells
        from blc.settings import get_settings

        named = _as_list(self.cell_ids)
        project = (self.project or "").strip() or None
        since = (self.since or "").strip() or None
        engine = engine_for(get_settings())
        with retried_only_when_transient():
            if named:
                unknown = unknown_cells(engine, named)
                if unknown:
                    raise AirflowFailException(f"no such cells: {', '.join(unknown)}")
                return named
            every = _as_bool(self.every) or bool(project or since)
            cells = cells_to_reprocess(engine, every=every, project=project, since=since)
        self.log.info("%d cells to reprocess", len(cells))
        return cells


class CellReprocessOperator(BaseOperator):
    """Recompute one cell's statistics, curves and fade from its stored samples (no raw file is read);
    `recompute` forces it whatever the stored processor version. Returns what RedashRefreshOperator reads."""

    template_fields: Sequence[str] = ("cell_id",)

    def __init__(self, *, cell_id: str, recompute: bool = True, **kwargs: Any) -> None:
        kwargs.setdefault("inlets", [TIMESERIES])
        kwargs.setdefault("outlets", [CYCLE_STATS, CAPACITY_FADE])
        super().__init__(**kwargs)
        self.cell_id = cell_id
        self.recompute = recompute

    def execute(self, context: Any) -> dict[str, Any]:
        from blc.process import process_cell

        with retried_only_when_transient():
            outcome = process_cell(self.cell_id, recompute=self.recompute)
        _emit(context, [CYCLE_STATS, CAPACITY_FADE], cells=[self.cell_id])
        self.log.info("%s: %d cycles, processor %s", self.cell_id, outcome.cycles, outcome.processor_version)
        return {"file_label": self.cell_id, "status": "reprocessed", "cells": [outcome.as_dict()]}


def _as_list(value: Iterable[str] | str | None) -> list[str]:
    if value is None:
        return []
    if isinstance(value, str):
        return [part.strip() for part in value.replace(",", " ").split() if part.strip()]
    return [str(v) for v in value if str(v).strip()]


def _as_bool(value: bool | str) -> bool:
    return value if isinstance(value, bool) else str(value).strip().lower() in ("true", "1", "yes")


class RedashRefreshOperator(BaseOperator):
    """Refresh the Redash queries that read what this run changed, on the Redash of the `blc_redash`
    connection (BLC_REDASH_* when it is not defined); with neither it logs that it skipped. `results` are
    the ingest or process tasks' results of the run (missing ones ignored); a run that ingested files
    changed the ledger and validation tables too, whatever became of the files.

    A failed refresh never fails the ingestion: Redash unreachable or failing on its side is retried while
    retries last, then, like any other refresh failure, logged as a warning (the run's report repeats it)."""

    template_fields: Sequence[str] = ("results",)

    def __init__(self, *, results: Iterable[dict[str, Any] | None] | Any = (), **kwargs: Any) -> None:
        kwargs.setdefault("inlets", [CYCLE_STATS, CAPACITY_FADE])
        super().__init__(**kwargs)
        self.results = results

    def execute(self, context: Any) -> list[dict[str, Any]]:
        from blc.redash_refresh import LEDGER_TABLES, refresh_dashboards

        changed: set[str] = set()
        cells: set[str] = set()
        for result in as_list(self.results):
            if result and ("files" in result or "status" in result):  # files went through the ledger
                changed.update(LEDGER_TABLES)
            for cell in (result or {}).get("cells", []):
                changed.update(cell.get("changed_tables", []))
                cells.add(cell["cell_id"])
        retries_left = context["ti"].try_number <= (self.retries or 0)
        try:
            outcomes = refresh_dashboards(changed, cells=sorted(cells))
        except Exception as exc:
            if transient(exc) and retries_left:
                raise
            self.log.warning("Redash refresh failed: %s", exc)
            return [{"name": "*", "status": "failed", "error": str(exc)}]
        failed = [o for o in outcomes if o.get("status") == "failed"]
        if failed and retries_left and any(o.get("transient") for o in failed):
            raise ConnectionError(f"{len(failed)} Redash queries failed to refresh (Redash unreachable)")
        for outcome in failed:
            self.log.warning("Redash query %s did not refresh: %s", outcome["name"], outcome.get("error"))
        return outcomes


class IngestRunReportOperator(BaseOperator):
    """The run's last word: one log line per file it was offered (loaded / skipped / quarantined with the
    reason / failed / unfinished), read back from the ledger, and one per unreadable entry of the watched
    folders. It fails (so the run ends failed: docs/adr/0007) when any file was quarantined, failed or left
    unfinished, or when an entry became unreadable. A Redash refresh that failed (`refreshed` holds a failed
    outcome, or is None: a failed task returns nothing) is a warning: the files were loaded all the same."""

    template_fields: Sequence[str] = ("uris", "new_unreadable", "refreshed")

    def __init__(
        self,
        *,
        uris: Iterable[str] | Any,
        new_unreadable: Iterable[str] | Any = (),
        refreshed: Any = (),
        **kwargs: Any,
    ) -> None:
        super().__init__(**kwargs)
        self.uris = uris
        self.new_unreadable = new_unreadable
        self.refreshed = refreshed

    def execute(self, context: Any) -> dict[str, Any]:
        from blc.db import engine_for
        from blc.run_report import build_report
        from blc.settings import get_settings

        report = build_report(
            engine_for(get_settings()),
            [str(uri) for entry in as_list(self.uris) for uri in as_list(entry)],
            new_unreadable=[str(uri) for uri in as_list(self.new_unreadable)],
            redash_failed=self.refreshed is None
            or any((o or {}).get("status") == "failed" for o in as_list(self.refreshed)),
        )
        for line in report.lines:
            (self.log.warning if line.outcome != "loaded" else self.log.info)("%s", line)
        if report.redash_failed:
            self.log.warning("warning: the Redash refresh failed (see refresh_redash); the files are loaded")
        self.log.info("this run: %s", report.summary())
        if report.failed:
            bad = [line for line in report.lines if line.bad]
            reasons = "; ".join(f"{line.name} {line.outcome}" for line in bad[:5])
            more = f" and {len(bad) - 5} more" if len(bad) > 5 else ""
            raise AirflowFailException(f"{len(bad)} file(s) not loaded: {reasons}{more}")
        return {"summary": report.summary(), "lines": [str(line) for line in report.lines]}


class RunVerdictOperator(BaseOperator):
    """The run's last leaf in a DAG whose Redash refresh runs whatever happened before it (trigger rule
    all_done): it runs only when a task upstream failed (trigger rule one_failed), and fails, so the run
    ends failed instead of taking the refresh's success for its own (docs/adr/0007). Skipped otherwise."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs.setdefault("trigger_rule", "one_failed")
        kwargs.setdefault("retries", 0)
        super().__init__(**kwargs)

    def execute(self, context: Any) -> None:
        raise AirflowFailException(
            "a task of this run failed (see the red tasks above); the run fails with it"
        )
