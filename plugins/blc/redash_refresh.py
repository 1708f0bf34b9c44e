"""Re-running Redash queries after a pipeline run: `blc redash refresh` and the Airflow refresh task.

``refresh_touched_queries`` re-runs only the queries whose ``reads`` meet a table the run changed, so
dashboards never show results cached before the run; ``refresh_dashboards`` finds the Redash to talk to
(connection or environment) and the cells the per-cell queries run for.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from pathlib import Path
from typing import Any

import requests

from blc import connections
from blc.redash_client import RedashClient, RefreshOutcome
from blc.redash_specs import DEFAULT_QUERIES_DIR, RedashError, load_query_specs
from blc.settings import Settings, get_settings

log = logging.getLogger(__name__)


def refresh_touched_queries(
    changed_tables: set[str],
    *,
    base_url: str,
    api_key: str,
    queries_dir: Path = DEFAULT_QUERIES_DIR,
    parameter_values: Mapping[str, Any] | None = None,
    default_cells: Callable[[], list[str]] | None = None,
    poll_interval_s: float = 0.5,
    timeout_s: float = 60.0,
    session: requests.Session | None = None,
) -> list[RefreshOutcome]:
    """Refresh, one after another, the queries whose ``reads`` meet ``changed_tables``.

    Table names may omit the ``blc.`` schema. ``parameter_values`` (e.g. ``{"cell_id": [...]}``, the
    cells a run touched) override the specs' defaults; without a ``cell_id`` value, ``default_cells()``
    gives one (asked once, after the server answered); a query with a parameter that has no value is
    reported ``skipped``. A query absent from the server is reported ``failed`` (run ``blc redash sync``),
    and so is a refresh that raised; only a failure to list the queries (bad URL or key) raises.
    """
    specs = [spec for spec in load_query_specs(queries_dir) if spec.reads_any(changed_tables)]
    if not specs:
        return []
    outcomes: list[RefreshOutcome] = []
    with RedashClient(
        base_url, api_key, session=session, poll_interval_s=poll_interval_s, timeout_s=timeout_s
    ) as client:
        on_server = client.queries_by_name()
        given = dict(parameter_values or {})
        ask_cells = default_cells  # asked once, by the first query that needs cells
        for spec in specs:
            wants_cells = any(parameter.name == "cell_id" for parameter in spec.parameters)
            if ask_cells is not None and "cell_id" not in given and wants_cells:
                cells = ask_cells()
                ask_cells = None
                if cells:
                    given["cell_id"] = cells
            query = on_server.get(spec.name)
            if query is None:
                outcome = RefreshOutcome(
                    query_id=None,
                    name=spec.name,
                    status="failed",
                    error=f"query {spec.name!r} ({spec.slug}) is not on {client.base_url}: "
                    "run `blc redash sync`",
                )
            else:
                values = spec.parameter_values(given)
                missing = [p.name for p in spec.parameters if p.name not in values]
                if missing:
                    outcome = RefreshOutcome(
                        query_id=int(query["id"]),
                        name=spec.name,
                        status="skipped",
                        error=f"no value for parameter(s) {', '.join(missing)}: pass parameter_values "
                        f"or set a default in {spec.slug}.yml",
                    )
                else:
                    try:
                        outcome = client.refresh_query(int(query["id"]), values, name=spec.name)
                    except RedashError as exc:
                        outcome = RefreshOutcome(
                            query_id=int(query["id"]),
                            name=spec.name,
                            status="failed",
                            error=str(exc),
                            transient=exc.transient,
                        )
            log.info(
                "Redash refresh %s: %s%s",
                spec.name,
                outcome.status,
                f" ({outcome.error})" if outcome.error else "",
            )
            outcomes.append(outcome)
    return outcomes


#: What every ingest writes, whatever became of its files: the ledger and the validation results (and
#: the view of findings over them).
LEDGER_TABLES = ("blc.source_file", "blc.validation_result", "blc.validation_finding")
#: Per-cell queries refreshed without a run's cells (`blc redash refresh`) run for this many most recently
#: loaded cells, what a dashboard opened now would show first.
RECENT_CELLS = 5


def recent_cells(settings: Settings, limit: int = RECENT_CELLS) -> list[str]:
    """The cells whose files were loaded last, newest first; none (with a warning) when the database
    cannot say: the refresh goes on without them."""
    import sqlalchemy as sa

    from blc.db import engine_for

    try:
        with engine_for(settings).connect() as conn:
            rows = conn.execute(
                sa.text(
                    "select cell_id from blc.source_file where cell_id is not null and status = 'processed'"
                    " group by cell_id order by max(loaded_at) desc nulls last, cell_id limit :limit"
                ),
                {"limit": limit},
            )
            return [str(cell) for cell in rows.scalars()]
    except Exception as exc:  # the database down or not set up: per-cell queries are skipped, not fatal
        log.warning("no recent cells for the per-cell Redash queries (%s: %s)", type(exc).__name__, exc)
        return []


def refresh_dashboards(
    changed_tables: set[str], *, cells: list[str] | None = None, settings: Settings | None = None
) -> list[dict[str, Any]]:
    """Refresh the Redash queries reading `changed_tables`; per-cell queries run for the touched `cells`,
    else for the most recently loaded ones. Inside an Airflow task Redash is the `blc_redash` connection's
    (BLC_REDASH_* when it is not defined). Without a URL, or with a URL and no API key yet (Redash being
    set up), nothing is refreshed and a run is not failed for it."""
    settings = settings or get_settings()
    target = connections.redash_target(settings)
    if not target.url:  # only the environment can leave it out
        log.info("BLC_REDASH_URL is not set: Redash refresh skipped")
        return []
    if not changed_tables:
        log.info("nothing changed: no Redash query to refresh")
        return []
    if not target.api_key:
        log.warning(
            "Redash refresh skipped: %s has no API key yet (set %s once Redash is set up)",
            target.url,
            target.api_key_setting,
        )
        return []
    outcomes = refresh_touched_queries(
        changed_tables,
        base_url=target.url,
        api_key=target.api_key,
        queries_dir=settings.redash_dir / "queries",
        parameter_values={"cell_id": sorted(cells)} if cells else None,
        default_cells=lambda: recent_cells(settings),
    )
    for outcome in outcomes:
        log.info("Redash query %s: %s", outcome.name, outcome.status)
    return [o.as_dict() for o in outcomes]
