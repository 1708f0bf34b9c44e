"""Redash queries and dashboards as code, and a small Redash API client.

Queries live in ``redash/queries/<slug>.sql`` with a ``<slug>.yml`` beside it (name, description, the
tables the query ``reads`` and its parameters). ``sync_queries`` creates or updates them on a Redash
server, keyed on the query name; ``refresh_touched_queries`` re-runs, after a pipeline run, only the
queries that read a table the run changed, so dashboards never show results cached before the run.

Redash facts this module relies on (docs/redash.md): a wrong or missing API key answers 404, not
401; ``POST /api/queries/<id>/results`` with ``max_age: 0`` answers a job, polled on ``/api/jobs/<id>``
until status 3 (finished, with ``query_result_id``) or 4 (failed); a missing parameter answers 400
with a failed job; new queries are drafts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from types import TracebackType
from typing import Any, Literal

import requests

from blc import connections
from blc.redash_specs import (
    DEFAULT_QUERIES_DIR,
    RedashError,
    RedashQuerySpec,
    RedashSpecError,
    load_query_specs,
    order_by_dropdowns,
)
from blc.settings import Settings, get_settings

log = logging.getLogger(__name__)

#: Redash 25.1's worker fails a job with an empty error when the result holds NaN or ±Infinity (it
#: cannot serialise them to JSON): say so instead of nothing.
EMPTY_JOB_ERROR = (
    "job failed without a message (Redash does this when a result holds NaN or Infinity: the query"
    " must map them to NULL)"
)


PAGE_SIZE = 250  # Redash's maximum; larger pages answer 400
JOB_QUEUED, JOB_STARTED, JOB_FINISHED, JOB_FAILED = 1, 2, 3, 4
JOB_STATUS_NAMES = {
    JOB_QUEUED: "queued",
    JOB_STARTED: "started",
    JOB_FINISHED: "finished",
    JOB_FAILED: "failed",
}
# Redash answers a wrong or missing key with this 404 instead of 401/403.
LOGIN_MESSAGE = "Couldn't find resource. Please login and try again."


RefreshStatus = Literal["finished", "failed", "skipped"]


# --------------------------------------------------------------------------------------------------
# Client
# --------------------------------------------------------------------------------------------------


@dataclass(frozen=True)
class RefreshOutcome:
    """How one query refresh ended; ``as_dict()`` is small and JSON-safe for XCom."""

    query_id: int | None
    name: str
    status: RefreshStatus
    query_result_id: int | None = None
    error: str | None = None
    seconds: float = 0.0
    #: A failure a later retry may not meet (Redash unreachable, HTTP 5xx).
    transient: bool = False

    @property
    def ok(self) -> bool:
        return self.status == "finished"

    def as_dict(self) -> dict[str, Any]:
        return {
            "query_id": self.query_id,
            "name": self.name,
            "status": self.status,
            "query_result_id": self.query_result_id,
            "error": self.error,
            "seconds": round(self.seconds, 3),
            "transient": self.transient,
        }


def _job_status_name(status: object) -> str:
    return JOB_STATUS_NAMES.get(status, "unknown") if isinstance(status, int) else "unknown"


def _error_message(response: requests.Response) -> str:
    try:
        body = response.json()
    except ValueError:
        return response.text.strip()[:200] or response.reason or ""
    if isinstance(body, dict):
        if isinstance(body.get("message"), str):
            return str(body["message"])
        job = body.get("job")
        if isinstance(job, dict) and job.get("error"):
            return str(job["error"])
    return str(body)[:200]


class RedashClient:
    """The few Redash API calls the platform needs. The API key goes in a header and nowhere else."""

    def __init__(
        self,
        base_url: str,
        api_key: str,
        *,
        session: requests.Session | None = None,
        poll_interval_s: float = 0.5,
        timeout_s: float = 60.0,
    ) -> None:
        if not base_url:
            raise RedashError("no Redash URL: set BLC_REDASH_URL")
        if not api_key:
            raise RedashError("no Redash API key: set BLC_REDASH_API_KEY")
        self.base_url = base_url.rstrip("/")
        self._api_key = api_key
        self._session = session if session is not None else requests.Session()
        self._owns_session = session is None
        self.poll_interval_s = poll_interval_s
        self.timeout_s = timeout_s

    def __repr__(self) -> str:
        return f"RedashClient({self.base_url!r})"

    def close(self) -> None:
        if self._owns_session:
            self._session.close()

    def __enter__(self) -> RedashClient:
        return self

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.close()

    # -- HTTP ------------------------------------------------------------------------------------

    def _send(
        self, method: str, path: str, *, what: str, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> requests.Response:
        try:
            return self._session.request(
                method,
                f"{self.base_url}{path}",
                params=params,
                json=body,
                headers={"Authorization": f"Key {self._api_key}", "Accept": "application/json"},
                timeout=self.timeout_s,
            )
        except requests.RequestException as exc:
            # requests' messages hold the URL (no key: it travels in a header), never the headers.
            raise RedashError(
                f"{what}: {method} {path} on {self.base_url} failed: {exc}", transient=True
            ) from exc

    def _raise_for_status(self, response: requests.Response, method: str, path: str, what: str) -> None:
        if response.ok:
            return
        message = _error_message(response)
        hint = ""
        if response.status_code == 404 and message == LOGIN_MESSAGE:
            hint = " (Redash answers 404 to a wrong or missing API key: check BLC_REDASH_API_KEY)"
        raise RedashError(
            f"{what}: Redash answered HTTP {response.status_code} to {method} {path}: {message}{hint}",
            status_code=response.status_code,
        )

    def _json(self, response: requests.Response, method: str, path: str, what: str) -> Any:
        try:
            return response.json()
        except ValueError as exc:
            raise RedashError(
                f"{what}: {method} {path} answered HTTP {response.status_code} with a body that is not JSON",
                status_code=response.status_code,
            ) from exc

    def _request(
        self, method: str, path: str, *, what: str, params: Mapping[str, Any] | None = None, body: Any = None
    ) -> Any:
        response = self._send(method, path, what=what, params=params, body=body)
        self._raise_for_status(response, method, path, what)
        return self._json(response, method, path, what)

    # -- queries ---------------------------------------------------------------------------------

    def list_queries(self) -> list[dict[str, Any]]:
        """All queries the key can see (drafts included, archived not), following the pages."""
        queries: list[dict[str, Any]] = []
        page = 1
        while True:
            body = self._request(
                "GET", "/api/queries", what="list queries", params={"page": page, "page_size": PAGE_SIZE}
            )
            results = body.get("results") or []
            queries.extend(results)
            if not results or len(queries) >= int(body.get("count", 0)):
                return queries
            page += 1

    def queries_by_name(self) -> dict[str, dict[str, Any]]:
        """Name → query, from one listing; on duplicate names the oldest (lowest id) wins."""
        by_name: dict[str, dict[str, Any]] = {}
        for query in sorted(self.list_queries(), key=lambda q: int(q["id"])):
            if query.get("is_archived"):
                continue
            if query["name"] in by_name:
                log.warning(
                    "Redash holds several queries named %r; using id %s",
                    query["name"],
                    by_name[query["name"]]["id"],
                )
                continue
            by_name[query["name"]] = query
        return by_name

    def find_query_by_name(self, name: str) -> dict[str, Any] | None:
        return self.queries_by_name().get(name)

    def get_query(self, query_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self._request(
            "GET", f"/api/queries/{query_id}", what=f"get query {query_id}"
        )
        return result

    def create_query(
        self,
        name: str,
        sql: str,
        data_source_id: int,
        description: str = "",
        options: Mapping[str, Any] | None = None,
    ) -> dict[str, Any]:
        """Create a query; Redash makes it a draft (publish with ``update_query(id, is_draft=False)``)."""
        body = {
            "name": name,
            "query": sql,
            "data_source_id": data_source_id,
            "description": description,
            "options": dict(options or {}),
        }
        result: dict[str, Any] = self._request(
            "POST", "/api/queries", what=f"create query {name!r}", body=body
        )
        return result

    def update_query(
        self,
        query_id: int,
        *,
        name: str | None = None,
        sql: str | None = None,
        data_source_id: int | None = None,
        description: str | None = None,
        options: Mapping[str, Any] | None = None,
        is_draft: bool | None = None,
    ) -> dict[str, Any]:
        """Change the given fields of a query (fields left as None are not sent)."""
        fields: dict[str, Any] = {
            "name": name,
            "query": sql,
            "data_source_id": data_source_id,
            "description": description,
            "options": dict(options) if options is not None else None,
            "is_draft": is_draft,
        }
        body = {key: value for key, value in fields.items() if value is not None}
        result: dict[str, Any] = self._request(
            "POST", f"/api/queries/{query_id}", what=f"update query {query_id}", body=body
        )
        return result

    def list_data_sources(self) -> list[dict[str, Any]]:
        result: list[dict[str, Any]] = self._request("GET", "/api/data_sources", what="list data sources")
        return result

    def get_data_source(self, data_source_id: int) -> dict[str, Any]:
        result: dict[str, Any] = self._request(
            "GET", f"/api/data_sources/{data_source_id}", what=f"read data source {data_source_id}"
        )
        return result

    def save_data_source(
        self, name: str, options: Mapping[str, Any], data_source_id: int | None = None
    ) -> dict[str, Any]:
        """Create a Postgres data source, or update the one with `data_source_id`."""
        path = "/api/data_sources" if data_source_id is None else f"/api/data_sources/{data_source_id}"
        body = {"name": name, "type": "pg", "options": dict(options)}
        result: dict[str, Any] = self._request("POST", path, what=f"save data source {name!r}", body=body)
        return result

    def get_job(self, job_id: str) -> dict[str, Any]:
        body = self._request("GET", f"/api/jobs/{job_id}", what=f"poll job {job_id}")
        job: dict[str, Any] = body["job"]
        return job

    def get_query_result(self, query_result_id: int) -> dict[str, Any]:
        body = self._request(
            "GET", f"/api/query_results/{query_result_id}", what=f"get query result {query_result_id}"
        )
        result: dict[str, Any] = body["query_result"]
        return result

    # -- refresh ---------------------------------------------------------------------------------

    def refresh_query(
        self, query_id: int, parameters: Mapping[str, Any] | None = None, *, name: str | None = None
    ) -> RefreshOutcome:
        """Run a saved query now (``max_age: 0``) and wait for its job.

        A failed run (job status 4, or 400 with a failed job for a missing parameter) is an outcome,
        not an exception; HTTP errors and a job still running after ``timeout_s`` raise RedashError.
        """
        started = time.monotonic()
        if name is None:
            name = str(self.get_query(query_id).get("name", f"query {query_id}"))
        what = f"refresh of query {name!r} (id {query_id})"
        path = f"/api/queries/{query_id}/results"
        response = self._send(
            "POST", path, what=what, body={"parameters": dict(parameters or {}), "max_age": 0}
        )
        body = self._json(response, "POST", path, what) if response.status_code == 400 else None
        if not (isinstance(body, dict) and isinstance(body.get("job"), dict)):
            self._raise_for_status(response, "POST", path, what)
            body = self._json(response, "POST", path, what)

        def outcome(status: RefreshStatus, result_id: Any = None, error: str | None = None) -> RefreshOutcome:
            return RefreshOutcome(
                query_id=query_id,
                name=name,
                status=status,
                query_result_id=int(result_id) if result_id is not None else None,
                error=error,
                seconds=time.monotonic() - started,
            )

        if isinstance(body.get("query_result"), dict):
            return outcome("finished", body["query_result"].get("id"))
        job = body.get("job")
        if not isinstance(job, dict):
            raise RedashError(f"{what}: POST {path} answered neither a job nor a query result")
        while True:
            status = job.get("status")
            if status == JOB_FINISHED:
                result_id = job.get("query_result_id") or job.get("result")
                if result_id is None:
                    return outcome("failed", error=f"job {job.get('id')} finished without a query result id")
                return outcome("finished", result_id)
            if status == JOB_FAILED:
                return outcome("failed", error=str(job.get("error") or EMPTY_JOB_ERROR))
            if not job.get("id"):
                raise RedashError(f"{what}: job without an id and with status {status!r}: {job}")
            elapsed = time.monotonic() - started
            if elapsed >= self.timeout_s:
                raise RedashError(
                    f"{what}: job {job.get('id')} still {_job_status_name(status)} "
                    f"(status {status}) after {elapsed:.1f} s (timeout {self.timeout_s:g} s)"
                )
            time.sleep(min(self.poll_interval_s, max(self.timeout_s - elapsed, 0.0)))
            try:
                job = self.get_job(str(job["id"]))
            except RedashError as exc:
                raise RedashError(f"{what}: {exc}", status_code=exc.status_code) from exc


# --------------------------------------------------------------------------------------------------
# Sync and refresh: what `blc redash sync|refresh` and RedashRefreshOperator call
# --------------------------------------------------------------------------------------------------


def _needs_update(query: Mapping[str, Any], body: Mapping[str, Any]) -> bool:
    current_parameters = (query.get("options") or {}).get("parameters") or []
    return (
        query.get("name") != body["name"]
        or (query.get("query") or "").strip() != body["sql"].strip()
        or (query.get("description") or "") != body["description"]
        or query.get("data_source_id") != body["data_source_id"]
        or bool(query.get("is_draft"))
        or current_parameters != body["options"]["parameters"]
    )


#: Redash shows a stored secret as this, and keeps the secret when it is posted back.
SECRET_MASK = "--------"


def sync_data_source(client: RedashClient, name: str, url: str) -> tuple[int, str]:
    """Create or update the Postgres data source `name` to connect with `url`; (its id, what was done:
    created, updated or unchanged). The password is sent when creating, or when the address or user
    changed; otherwise Redash keeps the one it has (it never shows it back)."""
    from sqlalchemy.engine import make_url

    try:
        parsed = make_url(url)
    except Exception as exc:
        raise RedashSpecError(f"BLC_REDASH_DATA_SOURCE_URL is not a database URL ({exc})") from None
    wanted = {
        "host": parsed.host or "localhost",
        "port": int(parsed.port or 5432),
        "user": parsed.username or "",
        "dbname": parsed.database or "",
    }
    existing = next((ds for ds in client.list_data_sources() if ds.get("name") == name), None)
    if existing is None:
        created = client.save_data_source(name, {**wanted, "password": parsed.password or ""})
        log.info("Redash: created data source %r (id %s)", name, created["id"])
        return int(created["id"]), "created"
    current = client.get_data_source(int(existing["id"])).get("options") or {}
    if all(str(current.get(key)) == str(value) for key, value in wanted.items()):
        return int(existing["id"]), "unchanged"
    client.save_data_source(
        name, {**current, **wanted, "password": parsed.password or ""}, int(existing["id"])
    )
    log.info("Redash: updated data source %r (id %s)", name, existing["id"])
    return int(existing["id"]), "updated"


def sync_queries(
    client: RedashClient, specs: Sequence[RedashQuerySpec], data_source_id: int
) -> dict[str, int]:
    """Create or update each spec's query by name, published (not a draft); answer slug → query id.

    Idempotent: a second run creates nothing and changes nothing when the files did not change.
    Dropdown queries go first so the queries that use them can point at their ids.
    """
    existing = client.queries_by_name()
    query_ids: dict[str, int] = {}
    for spec in order_by_dropdowns(specs):
        query = existing.get(spec.name)
        if query is None:
            created = client.create_query(
                spec.name, spec.sql, data_source_id, spec.description, spec.redash_options(query_ids)
            )
            query = created
            log.info("Redash: created query %r (id %s)", spec.name, created["id"])
        query_id = int(query["id"])
        desired: dict[str, Any] = {
            "name": spec.name,
            "sql": spec.sql,
            "description": spec.description,
            "data_source_id": data_source_id,
            "options": spec.redash_options(query_ids, query_id),
        }
        if _needs_update(query, desired):
            client.update_query(
                query_id,
                name=spec.name,
                sql=spec.sql,
                data_source_id=data_source_id,
                description=spec.description,
                options={**(query.get("options") or {}), **desired["options"]},
                is_draft=False,
            )
            log.info("Redash: updated query %r (id %s)", spec.name, query_id)
        query_ids[spec.slug] = query_id
    return query_ids


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
        values_given = dict(parameter_values or {})
        for spec in specs:
            wants_cells = any(p.name == "cell_id" for p in spec.parameters)
            if wants_cells and "cell_id" not in values_given and default_cells is not None:
                values_given["cell_id"] = default_cells() or None
            parameter_values = {k: v for k, v in values_given.items() if v is not None}
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
                values = spec.parameter_values(parameter_values)
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
