"""A fake Redash server for tests: the slice of the v25 API the platform uses, behaving as the real one does.

Faithful where our client could go wrong (docs/redash.md, "Redash"):

- auth by ``Authorization: Key <key>`` or ``?api_key=``; a wrong or missing key answers **404**
  ``{"message": "Couldn't find resource. Please login and try again."}``;
- ``POST /api/queries`` needs ``data_source_id`` (its absence is a KeyError upstream: 500) and makes a
  draft with its own ``api_key`` and a TABLE visualization; ``POST /api/queries/<id>`` updates (409 on
  a stale ``version``); query-based dropdown parameters must point at an existing query (400);
- lists answer ``{count, page, page_size, results}``, newest first, archived queries left out;
  ``page_size`` outside 1-250 or a page past the end answers 400;
- ``POST /api/queries/<id>/results``: parameters are validated against the query's definitions and
  rendered as Redash does (multi-values joined with their prefix/suffix/separator); a missing one
  answers 400 with a failed job; ``max_age: 0`` always enqueues a job, otherwise a cached result for
  the same text answers ``{"query_result": …}``; re-posting while a job is in flight returns that job;
- ``GET /api/jobs/<id>``: status 1 (queued) → 2 (started) → 3 (finished, ``query_result_id``) or 4
  (failed, ``error``) as it is polled; ``updated_at`` is 0 except while started; an unknown job id
  answers 500; ``DELETE`` cancels;
- ``GET /api/query_results/<id>`` answers the stored result; a run without parameters sets the
  query's ``latest_query_data_id``, a parameterised one does not;
- with ``database_url``, a job runs its rendered SQL on that Postgres, as Redash's worker would: an SQL
  error fails the job with the server's message, and a result holding NaN or ±Infinity fails it with an
  empty ``error`` (Redash 25.1's worker cannot serialise them: "Out of range float values are not JSON
  compliant").

- ``/api/data_sources``: a list without options; ``POST`` creates (400 for a taken name or an unknown
  type), ``GET``/``POST /api/data_sources/<id>`` read and update; a password reads back as ``--------``,
  and that mask posted back keeps the stored password.

Known simplifications: one organisation, one user (an admin), no groups or permissions, no
dashboards or widgets; a query-based dropdown whose query never ran has no values (real Redash errors).
"""

from __future__ import annotations

import hashlib
import json
import re
import secrets
import threading
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any
from urllib.parse import parse_qs, urlsplit

LOGIN_MESSAGE = "Couldn't find resource. Please login and try again."
NOT_FOUND_MESSAGE = (
    "The requested URL was not found on the server. If you entered the URL manually please check your "
    "spelling and try again."
)
DROPDOWN_MESSAGE = (
    "You are trying to associate a dropdown query that does not have a matching group. Please verify the "
    "dropdown query id you are trying to associate with this query."
)
QUEUED, STARTED, FINISHED, FAILED = 1, 2, 3, 4

_PLACEHOLDER_RE = re.compile(r"\{\{\s*([A-Za-z_][\w.]*)\s*\}\}")
_COMMENTS_RE = re.compile(r"/\*.*?\*/", re.DOTALL)
_IMMUTABLE_ON_CREATE = (
    "id",
    "created_at",
    "api_key",
    "visualizations",
    "latest_query_data",
    "last_modified_by",
)
_IMMUTABLE_ON_UPDATE = (*_IMMUTABLE_ON_CREATE, "user", "org")
_UPDATABLE = frozenset(
    {"name", "description", "query", "schedule", "options", "tags", "is_draft", "data_source_id"}
)


@dataclass(frozen=True)
class RecordedRequest:
    method: str
    path: str
    query: dict[str, list[str]]
    body: Any
    authorized: bool


class _HttpError(Exception):
    def __init__(self, status: int, body: Any) -> None:
        super().__init__(status)
        self.status = status
        self.body = body


class _JobFailed(Exception):
    """A job's query failed in the (emulated) worker; the message is the job's `error`."""


def gen_query_hash(sql: str) -> str:
    """Redash's query hash: block comments and all whitespace removed, then md5."""
    return hashlib.md5("".join(_COMMENTS_RE.sub("", sql).split()).encode("utf-8")).hexdigest()


def _now() -> str:
    return datetime.now(UTC).isoformat()


def _is_number(value: Any) -> bool:
    if isinstance(value, bool):
        return False
    try:
        float(value)
    except (TypeError, ValueError):
        return False
    return True


class FakeRedashServer:
    """``with FakeRedashServer() as redash:`` (or ``start()``/``stop()``); then ``.url`` and ``.api_key``."""

    def __init__(
        self,
        api_key: str | None = None,
        *,
        polls_to_finish: int = 2,
        data_sources: list[dict[str, Any]] | None = None,
        database_url: str | None = None,
    ) -> None:
        self.api_key = api_key or f"fake-{secrets.token_hex(12)}"
        self.database_url = database_url
        self.polls_to_finish = polls_to_finish
        self.requests: list[RecordedRequest] = []
        self.data_sources: dict[int, dict[str, Any]] = {
            int(ds["id"]): ds
            for ds in (
                [{"id": 1, "name": "blc", "type": "pg", "paused": 0, "pause_reason": None}]
                if data_sources is None
                else data_sources
            )
        }
        self.queries: dict[int, dict[str, Any]] = {}
        self.jobs: dict[str, dict[str, Any]] = {}
        self.query_results: dict[int, dict[str, Any]] = {}
        self._failures: dict[int, str] = {}
        self._stalled: set[int] = set()
        self._rows: dict[int, tuple[list[dict[str, Any]], list[dict[str, Any]]]] = {}
        self._lock = threading.RLock()
        self._next_query_id = 1
        self._next_result_id = 1
        self._next_visualization_id = 1
        self._httpd: ThreadingHTTPServer | None = None
        self._thread: threading.Thread | None = None
        self.user = {"id": 1, "name": "Fake Admin", "email": "admin@example.org"}

    # -- lifecycle -----------------------------------------------------------------------------

    def start(self) -> FakeRedashServer:
        fake = self

        class Handler(_Handler):
            server_fake = fake

        self._httpd = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self._httpd.daemon_threads = True
        self._thread = threading.Thread(
            target=self._httpd.serve_forever, kwargs={"poll_interval": 0.02}, name="fake-redash", daemon=True
        )
        self._thread.start()
        return self

    def stop(self) -> None:
        if self._httpd is not None:
            self._httpd.shutdown()
            self._httpd.server_close()
            self._httpd = None
        if self._thread is not None:
            self._thread.join(timeout=5)
            self._thread = None

    def __enter__(self) -> FakeRedashServer:
        return self.start()

    def __exit__(
        self, exc_type: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None
    ) -> None:
        self.stop()

    @property
    def url(self) -> str:
        if self._httpd is None:
            raise RuntimeError("FakeRedashServer is not started")
        return f"http://127.0.0.1:{self._httpd.server_address[1]}"

    # -- test controls -------------------------------------------------------------------------

    def fail_query(self, query_id: int, error: str = 'relation "blc.cycle_stats" does not exist') -> None:
        """Runs of this query end as failed jobs (status 4) with ``error``."""
        self._failures[query_id] = error

    def stall_query(self, query_id: int) -> None:
        """Runs of this query stay 'started' forever (to test client timeouts)."""
        self._stalled.add(query_id)

    def set_rows(self, query_id: int, rows: list[dict[str, Any]], columns: list[str] | None = None) -> None:
        """What runs of this query return (also what a dropdown built on it offers)."""
        names = columns if columns is not None else (list(rows[0]) if rows else [])
        self._rows[query_id] = ([{"name": n, "friendly_name": n, "type": None} for n in names], rows)

    def add_query(self, name: str, sql: str = "select 1", **fields: Any) -> dict[str, Any]:
        """Put a query straight into the store (no request recorded), e.g. to fill several pages."""
        with self._lock:
            return self._create_query({"name": name, "query": sql, "data_source_id": 1, **fields})

    def requests_to(self, method: str, path_pattern: str) -> list[RecordedRequest]:
        """Recorded requests with this method whose path fully matches the regex ``path_pattern``."""
        pattern = re.compile(path_pattern)
        return [r for r in self.requests if r.method == method and pattern.fullmatch(r.path)]

    def clear_requests(self) -> None:
        self.requests.clear()

    # -- state -----------------------------------------------------------------------------------

    def _create_query(self, query_def: dict[str, Any]) -> dict[str, Any]:
        query_id = self._next_query_id
        self._next_query_id += 1
        now = _now()
        visualization = {
            "id": self._next_visualization_id,
            "type": "TABLE",
            "name": "Table",
            "description": "",
            "options": {},
            "created_at": now,
            "updated_at": now,
        }
        self._next_visualization_id += 1
        query = {
            "id": query_id,
            "name": query_def["name"],
            "description": query_def.get("description"),
            "query": query_def["query"],
            "query_hash": gen_query_hash(query_def["query"]),
            "schedule": query_def.get("schedule"),
            "api_key": secrets.token_hex(20),
            "is_archived": False,
            "is_draft": True,
            "updated_at": now,
            "created_at": now,
            "data_source_id": query_def["data_source_id"],
            "options": query_def.get("options") or {},
            "version": 1,
            "tags": query_def.get("tags") or [],
            "latest_query_data_id": None,
            "user": self.user,
            "last_modified_by": self.user,
            "visualizations": [visualization],
        }
        self.queries[query_id] = query
        return query

    def _serialize_query(self, query: dict[str, Any], *, full: bool) -> dict[str, Any]:
        out = {key: value for key, value in query.items() if key != "visualizations"}
        out["is_safe"] = not any(p.get("type") == "text" for p in query["options"].get("parameters", []))
        if full:
            out["visualizations"] = query["visualizations"]
            out["can_edit"] = True
        else:
            out.pop("last_modified_by")
            latest = self.query_results.get(query["latest_query_data_id"] or -1)
            out["retrieved_at"] = latest["retrieved_at"] if latest else None
            out["runtime"] = latest["runtime"] if latest else None
            out["is_favorite"] = False
        return out

    def _query_or_404(self, raw_id: str) -> dict[str, Any]:
        query = self.queries.get(int(raw_id))
        if query is None:
            raise _HttpError(404, {"message": NOT_FOUND_MESSAGE})
        return query

    def _check_dropdowns(self, query_def: dict[str, Any]) -> None:
        parameters = (query_def.get("options") or {}).get("parameters") or []
        for parameter in parameters:
            if parameter.get("type") == "query" and _to_int(parameter.get("queryId")) not in self.queries:
                raise _HttpError(400, {"message": DROPDOWN_MESSAGE})

    def _dropdown_values(self, query_id: int) -> list[str]:
        query = self.queries.get(query_id)
        result = self.query_results.get((query or {}).get("latest_query_data_id") or -1)
        if result is None or not result["data"]["columns"]:
            return []
        first = result["data"]["columns"][0]["name"]
        values = []
        for row in result["data"]["rows"]:
            lowered = {str(k).lower(): v for k, v in row.items()}
            values.append(str(lowered["value"] if "value" in lowered else lowered[first.lower()]))
        return values

    def _valid(self, definition: dict[str, Any] | None, value: Any) -> bool:
        if definition is None:
            return True
        allow_list = "multiValuesOptions" in definition
        kind = definition.get("type")

        def within(options: list[str]) -> bool:
            if isinstance(value, list):
                return allow_list and {str(v) for v in value} <= set(options)
            return str(value) in options

        if kind == "text":
            return isinstance(value, str)
        if kind == "number":
            return _is_number(value)
        if kind == "enum":
            options = definition.get("enumOptions") or ""
            return within(options.split("\n") if isinstance(options, str) else list(options))
        if kind == "query":
            return within(self._dropdown_values(_to_int(definition.get("queryId"))))
        if kind in {"date", "datetime-local", "datetime-with-seconds"}:
            return isinstance(value, str)
        if kind in {"date-range", "datetime-range", "datetime-range-with-seconds"}:
            return isinstance(value, dict) and {"start", "end"} <= set(value)
        return False

    def _render(self, query: dict[str, Any], values: dict[str, Any]) -> str:
        schema = {p["name"]: p for p in query["options"].get("parameters", [])}
        invalid = [name for name, value in values.items() if not self._valid(schema.get(name), value)]
        if invalid:
            raise _HttpError(
                400,
                {
                    "message": "The following parameter values are incompatible with their definitions: "
                    + ", ".join(invalid)
                },
            )
        rendered: dict[str, str] = {}
        for name, value in values.items():
            if isinstance(value, list):
                options = schema.get(name, {}).get("multiValuesOptions", {})
                prefix, suffix = str(options.get("prefix", "")), str(options.get("suffix", ""))
                rendered[name] = str(options.get("separator", ",")).join(
                    f"{prefix}{v}{suffix}" for v in value
                )
            elif isinstance(value, dict):
                for key, inner in value.items():
                    rendered[f"{name}.{key}"] = str(inner)
            else:
                rendered[name] = str(value)
        missing = sorted(set(_PLACEHOLDER_RE.findall(query["query"])) - set(rendered))
        if missing:
            raise _HttpError(
                400,
                {"job": {"status": FAILED, "error": "Missing parameter value for: " + ", ".join(missing)}},
            )
        return _PLACEHOLDER_RE.sub(lambda m: rendered[m.group(1)], query["query"])

    def _serialize_job(self, job: dict[str, Any]) -> dict[str, Any]:
        return {
            "job": {
                "id": job["id"],
                "updated_at": job["started_at"] if job["status"] == STARTED else 0,
                "status": job["status"],
                "error": job["error"],
                "result": job["query_result_id"],
                "query_result_id": job["query_result_id"],
            }
        }

    def _advance(self, job: dict[str, Any]) -> None:
        if job["status"] in (FINISHED, FAILED):
            return
        job["polls"] += 1
        if job["status"] == QUEUED:
            job["status"], job["started_at"] = STARTED, _now()
        query_id = job["query_id"]
        if query_id in self._stalled or job["polls"] < self.polls_to_finish:
            return
        if query_id in self._failures:
            job["status"], job["error"] = FAILED, self._failures[query_id]
            return
        columns, rows = self._rows.get(query_id, ([], []))
        if self.database_url is not None and query_id not in self._rows:
            try:
                columns, rows = self._execute(job["query_text"])
            except _JobFailed as exc:
                job["status"], job["error"] = FAILED, str(exc)
                return
        result_id = self._next_result_id
        self._next_result_id += 1
        self.query_results[result_id] = {
            "id": result_id,
            "query_hash": job["query_hash"],
            "query": job["query_text"],
            "data": {"columns": columns, "rows": rows},
            "data_source_id": job["data_source_id"],
            "runtime": 0.01,
            "retrieved_at": _now(),
        }
        for query in self.queries.values():
            if query["query_hash"] == job["query_hash"] and query["data_source_id"] == job["data_source_id"]:
                query["latest_query_data_id"] = result_id
        job["status"], job["query_result_id"] = FINISHED, result_id

    def _execute(self, sql: str) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
        """Run the SQL as Redash's pg query runner does; what its worker would make of the result."""
        import math

        import psycopg2

        try:
            conn = psycopg2.connect(self.database_url)
        except psycopg2.Error as exc:
            raise _JobFailed(str(exc).strip()) from exc
        try:
            with conn.cursor() as cursor:
                cursor.execute(sql)
                names = [column.name for column in cursor.description or []]
                records = cursor.fetchall() if cursor.description else []
        except psycopg2.Error as exc:
            raise _JobFailed(str(exc).strip()) from exc
        finally:
            conn.close()
        if any(isinstance(v, float) and not math.isfinite(v) for record in records for v in record):
            raise _JobFailed("")  # the worker's ValueError on serialising; the job's error stays empty
        columns = [{"name": n, "friendly_name": n, "type": None} for n in names]
        return columns, [dict(zip(names, record, strict=True)) for record in records]

    # -- endpoints -------------------------------------------------------------------------------

    def handle(self, method: str, path: str, args: dict[str, list[str]], body: Any) -> tuple[int, Any]:
        with self._lock:
            parts = [p for p in path.split("/") if p]
            if parts[:1] != ["api"]:
                raise _HttpError(404, {"message": NOT_FOUND_MESSAGE})
            route = parts[1:]
            if route == ["data_sources"] and method == "GET":
                return 200, [self._serialize_data_source(ds, full=False) for ds in self.data_sources.values()]
            if route == ["data_sources"] and method == "POST":
                return 200, self._post_data_source(body)
            if len(route) == 2 and route[0] == "data_sources" and route[1].isdigit():
                data_source = self.data_sources.get(int(route[1]))
                if data_source is None:
                    raise _HttpError(404, {"message": NOT_FOUND_MESSAGE})
                if method == "GET":
                    return 200, self._serialize_data_source(data_source, full=True)
                if method == "POST":
                    return 200, self._update_data_source(data_source, body)
            if route == ["queries"] and method == "GET":
                return 200, self._list_queries(args)
            if route == ["queries"] and method == "POST":
                return 200, self._post_query(body)
            if len(route) == 2 and route[0] == "queries" and route[1].isdigit():
                if method == "GET":
                    return 200, self._serialize_query(self._query_or_404(route[1]), full=True)
                if method == "POST":
                    return 200, self._update_query(self._query_or_404(route[1]), body)
                if method == "DELETE":
                    query = self._query_or_404(route[1])
                    query["is_archived"], query["updated_at"] = True, _now()
                    return 200, None
            if len(route) == 3 and route[0] == "queries" and route[1].isdigit() and route[2] == "results":
                query = self._query_or_404(route[1])
                if method == "POST":
                    return self._post_results(query, body)
                if method == "GET":
                    result = self.query_results.get(query["latest_query_data_id"] or -1)
                    if result is None:
                        raise _HttpError(404, {"message": "No cached result found for this query."})
                    return 200, {"query_result": result}
            if len(route) == 2 and route[0] == "jobs" and method in ("GET", "DELETE"):
                job = self.jobs.get(route[1])
                if job is None:
                    raise _HttpError(500, {"message": "Internal Server Error"})
                if method == "DELETE":
                    if job["status"] in (QUEUED, STARTED):
                        job["status"], job["error"] = FAILED, "Query cancelled by user."
                    return 200, None
                self._advance(job)
                return 200, self._serialize_job(job)
            if len(route) == 2 and route[0] == "query_results" and route[1].isdigit() and method == "GET":
                result = self.query_results.get(int(route[1]))
                if result is None:
                    raise _HttpError(404, {"message": NOT_FOUND_MESSAGE})
                return 200, {"query_result": result}
            raise _HttpError(404, {"message": NOT_FOUND_MESSAGE})

    #: What Redash shows instead of a secret option; posted back, it keeps the stored secret.
    SECRET_MASK = "--------"

    def _serialize_data_source(self, data_source: dict[str, Any], *, full: bool) -> dict[str, Any]:
        shown = {k: v for k, v in data_source.items() if k != "options"}
        shown.setdefault("syntax", "sql")
        shown.setdefault("view_only", False)
        if full:
            options = dict(data_source.get("options") or {})
            if "password" in options:
                options["password"] = self.SECRET_MASK
            shown["options"] = options
        return shown

    def _post_data_source(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not body.get("name") or not body.get("type"):
            raise _HttpError(400, {"message": "Incomplete data source definition"})
        if body["type"] != "pg":
            raise _HttpError(400, {"message": f"Unknown data source type: {body['type']}"})
        if any(ds["name"] == body["name"] for ds in self.data_sources.values()):
            raise _HttpError(400, {"message": f"Data source with the name {body['name']} already exists."})
        new_id = max(self.data_sources, default=0) + 1
        self.data_sources[new_id] = {
            "id": new_id,
            "name": body["name"],
            "type": "pg",
            "paused": 0,
            "pause_reason": None,
            "options": dict(body.get("options") or {}),
        }
        return self._serialize_data_source(self.data_sources[new_id], full=True)

    def _update_data_source(self, data_source: dict[str, Any], body: Any) -> dict[str, Any]:
        if not isinstance(body, dict) or not body.get("name") or not body.get("type"):
            raise _HttpError(400, {"message": "Incomplete data source definition"})
        options = dict(body.get("options") or {})
        if options.get("password") == self.SECRET_MASK:  # the mask posted back keeps the secret
            options["password"] = (data_source.get("options") or {}).get("password")
        data_source.update(name=body["name"], options=options)
        return self._serialize_data_source(data_source, full=True)

    def _list_queries(self, args: dict[str, list[str]]) -> dict[str, Any]:
        page = _int_arg(args, "page", 1)
        page_size = _int_arg(args, "page_size", 25)
        term = (args.get("q") or [""])[0].lower()
        selected = [
            q
            for q in self.queries.values()
            if not q["is_archived"]
            and (term in q["name"].lower() or term in (q["description"] or "").lower())
        ]
        selected.sort(key=lambda q: q["id"], reverse=True)  # -created_at
        count = len(selected)
        if page < 1:
            raise _HttpError(400, {"message": "Page must be positive integer."})
        if (page - 1) * page_size + 1 > count > 0:
            raise _HttpError(400, {"message": "Page is out of range."})
        if page_size > 250 or page_size < 1:
            raise _HttpError(400, {"message": "Page size is out of range (1-250)."})
        items = selected[(page - 1) * page_size : page * page_size]
        return {
            "count": count,
            "page": page,
            "page_size": page_size,
            "results": [self._serialize_query(q, full=False) for q in items],
        }

    def _post_query(self, body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _HttpError(400, {"message": "Failed to decode JSON object"})
        query_def = dict(body)
        if "data_source_id" not in query_def or "query" not in query_def or "name" not in query_def:
            raise _HttpError(500, {"message": "Internal Server Error"})  # KeyError upstream
        if _to_int(query_def["data_source_id"]) not in self.data_sources:
            raise _HttpError(404, {"message": NOT_FOUND_MESSAGE})
        self._check_dropdowns(query_def)
        for field in _IMMUTABLE_ON_CREATE:
            query_def.pop(field, None)
        query_def["data_source_id"] = _to_int(query_def["data_source_id"])
        return self._serialize_query(self._create_query(query_def), full=True)

    def _update_query(self, query: dict[str, Any], body: Any) -> dict[str, Any]:
        if not isinstance(body, dict):
            raise _HttpError(400, {"message": "Failed to decode JSON object"})
        query_def = dict(body)
        self._check_dropdowns(query_def)
        for field in _IMMUTABLE_ON_UPDATE:
            query_def.pop(field, None)
        if "version" in query_def and query_def.pop("version") != query["version"]:
            raise _HttpError(409, {"message": "Conflict"})
        if "data_source_id" in query_def and _to_int(query_def["data_source_id"]) not in self.data_sources:
            raise _HttpError(404, {"message": NOT_FOUND_MESSAGE})
        for key, value in query_def.items():
            if key in _UPDATABLE:
                query[key] = value
        query["query_hash"] = gen_query_hash(query["query"])
        query["version"] += 1
        query["updated_at"] = _now()
        query["last_modified_by"] = self.user
        return self._serialize_query(query, full=True)

    def _post_results(self, query: dict[str, Any], body: Any) -> tuple[int, Any]:
        if not isinstance(body, dict):
            raise _HttpError(400, {"message": "Failed to decode JSON object"})
        raw_max_age = body.get("max_age")
        max_age = -1 if raw_max_age is None else int(raw_max_age)
        data_source = self.data_sources[query["data_source_id"]]
        if data_source.get("paused"):
            return 400, {
                "job": {"status": FAILED, "error": f"{data_source['name']} is paused. Please try later."}
            }
        text = self._render(query, dict(body.get("parameters") or {}))
        query_hash = gen_query_hash(text)
        if max_age != 0:
            cached = [
                r
                for r in self.query_results.values()
                if r["query_hash"] == query_hash and r["data_source_id"] == query["data_source_id"]
            ]
            if cached:
                return 200, {"query_result": max(cached, key=lambda r: r["id"])}
        for job in self.jobs.values():
            if (
                job["query_hash"] == query_hash
                and job["data_source_id"] == query["data_source_id"]
                and job["status"] in (QUEUED, STARTED)
            ):
                return 200, self._serialize_job(job)
        job = {
            "id": str(uuid.uuid4()),
            "query_id": query["id"],
            "query_text": text,
            "query_hash": query_hash,
            "data_source_id": query["data_source_id"],
            "status": QUEUED,
            "started_at": 0,
            "error": "",
            "query_result_id": None,
            "polls": 0,
        }
        self.jobs[job["id"]] = job
        return 200, self._serialize_job(job)


def _to_int(value: Any) -> int:
    try:
        return int(value)
    except (TypeError, ValueError):
        return -1


def _int_arg(args: dict[str, list[str]], name: str, default: int) -> int:
    # Flask's request.args.get(name, default, type=int): unparsable values fall back to the default.
    try:
        return int((args.get(name) or [str(default)])[0])
    except ValueError:
        return default


class _Handler(BaseHTTPRequestHandler):
    server_fake: FakeRedashServer
    protocol_version = "HTTP/1.1"
    disable_nagle_algorithm = True  # keep-alive + Nagle + delayed ACK costs 40 ms a request

    def log_message(self, format: str, *args: Any) -> None:  # quiet test output
        return

    def _authorized(self, args: dict[str, list[str]]) -> bool:
        header = self.headers.get("Authorization", "")
        key = header[len("Key ") :].strip() if header.startswith("Key ") else (args.get("api_key") or [""])[0]
        return secrets.compare_digest(key, self.server_fake.api_key)

    def _dispatch(self, method: str) -> None:
        split = urlsplit(self.path)
        args = parse_qs(split.query)
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        body: Any
        try:
            body = json.loads(raw) if raw else None
        except ValueError:
            body = raw.decode("utf-8", "replace")
        authorized = self._authorized(args)
        fake = self.server_fake
        with fake._lock:
            fake.requests.append(RecordedRequest(method, split.path, args, body, authorized))
        try:
            if not authorized:
                raise _HttpError(404, {"message": LOGIN_MESSAGE})
            if method == "POST" and (body is None or isinstance(body, str)):
                raise _HttpError(400, {"message": "Failed to decode JSON object"})
            status, payload = fake.handle(method, split.path, args, body)
        except _HttpError as exc:
            status, payload = exc.status, exc.body
        data = json.dumps(payload, default=str).encode("utf-8")
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(data)))
        self.end_headers()
        self.wfile.write(data)

    def do_GET(self) -> None:
        self._dispatch("GET")

    def do_POST(self) -> None:
        self._dispatch("POST")

    def do_DELETE(self) -> None:
        self._dispatch("DELETE")
