"""A small client for Redash's HTTP API: list, create and update queries and data sources, run a query
now and wait for its job. What `blc redash sync|refresh` (blc.redash_sync, blc.redash_refresh) and the
Airflow refresh task talk to Redash with.

Redash facts it relies on (docs/redash.md): a wrong or missing API key answers 404, not 401;
``POST /api/queries/<id>/results`` with ``max_age: 0`` answers a job, polled on ``/api/jobs/<id>`` until
status 3 (finished, with ``query_result_id``) or 4 (failed); a missing parameter answers 400 with a failed
job; new queries are drafts.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any, Literal

import requests

from blc.redash_specs import RedashError

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
