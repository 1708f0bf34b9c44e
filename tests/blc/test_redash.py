"""Redash queries as code and the Redash client, against the real query files and a fake Redash server."""

from __future__ import annotations

import dataclasses
import json
import logging
import re
from collections.abc import Iterator, Mapping
from pathlib import Path
from typing import Any

import pytest
import requests

from blc.redash_client import RedashClient, RefreshOutcome
from blc.redash_refresh import refresh_touched_queries
from blc.redash_specs import (
    RedashError,
    RedashQuerySpec,
    RedashSpecError,
    load_dashboard_specs,
    load_query_specs,
)
from blc.redash_sync import sync_queries
from tests.fakes.redash_server import LOGIN_MESSAGE, FakeRedashServer

ROOT = Path(__file__).resolve().parents[2]
QUERIES_DIR = ROOT / "redash" / "queries"
DASHBOARDS_DIR = ROOT / "redash" / "dashboards"

# docs/design.md §4: the tables of schema blc and the batteryarchive compatibility views.
DESIGN_TABLES = {
    "blc.project",
    "blc.cell",
    "blc.source_file",
    "blc.timeseries",
    "blc.cycle_stats",
    "blc.capacity_fade",
    "blc.cell_summary",
    "blc.curve",
    "blc.validation_result",
    "blc.validation_finding",
    "batteryarchive.cell_metadata",
    "batteryarchive.cycle_stats",
    "batteryarchive.cycle_timeseries",
}
REQUIRED_SLUGS = {"cell_list", "capacity_fade", "cycle_stats", "ingest_status"}
DATA_SOURCE_ID = 1
FAST: dict[str, float] = {"poll_interval_s": 0.01, "timeout_s": 5.0}


@pytest.fixture
def redash() -> Iterator[FakeRedashServer]:
    with FakeRedashServer() as server:
        yield server


@pytest.fixture
def client(redash: FakeRedashServer) -> Iterator[RedashClient]:
    with RedashClient(redash.url, redash.api_key, **FAST) as redash_client:
        yield redash_client


@pytest.fixture
def specs() -> list[RedashQuerySpec]:
    return load_query_specs(QUERIES_DIR)


@pytest.fixture
def synced(redash: FakeRedashServer, client: RedashClient, specs: list[RedashQuerySpec]) -> dict[str, int]:
    query_ids = sync_queries(client, specs, DATA_SOURCE_ID)
    redash.clear_requests()
    return query_ids


def refresh(
    redash: FakeRedashServer, tables: set[str], parameter_values: Mapping[str, Any] | None = None
) -> list[RefreshOutcome]:
    return refresh_touched_queries(
        tables,
        base_url=redash.url,
        api_key=redash.api_key,
        queries_dir=QUERIES_DIR,
        parameter_values=parameter_values,
        **FAST,
    )


def refreshed_ids(redash: FakeRedashServer) -> list[int]:
    return [int(r.path.split("/")[3]) for r in redash.requests_to("POST", r"/api/queries/\d+/results")]


def offer_cells(redash: FakeRedashServer, synced: dict[str, int], *cell_ids: str) -> None:
    """Make the cell_ids dropdown return these cells, and run it so Redash knows its values."""
    redash.set_rows(synced["cell_ids"], [{"value": c, "name": c} for c in cell_ids])
    [outcome] = [o for o in refresh(redash, {"blc.cell"}) if o.query_id == synced["cell_ids"]]
    assert outcome.status == "finished"
    redash.clear_requests()


# -- the query files -----------------------------------------------------------------------------


def test_query_files_are_complete_and_read_design_tables(specs: list[RedashQuerySpec]) -> None:
    assert {spec.slug for spec in specs} >= REQUIRED_SLUGS
    assert {p.stem for p in QUERIES_DIR.glob("*.yml")} == {p.stem for p in QUERIES_DIR.glob("*.sql")}
    for spec in specs:
        assert spec.name and spec.description and spec.sql.strip(), spec.slug
        assert spec.reads, spec.slug
        assert set(spec.reads) <= DESIGN_TABLES, (spec.slug, set(spec.reads) - DESIGN_TABLES)
        tables_in_sql = set(re.findall(r"\b(?:from|join)\s+([a-z_]+\.[a-z_]+)", spec.sql))
        assert tables_in_sql == set(spec.reads), spec.slug
    assert len({spec.name for spec in specs}) == len(specs)


def test_query_sql_follows_the_style_guide(specs: list[RedashQuerySpec]) -> None:
    for spec in specs:
        code = "\n".join(line.split("--")[0] for line in spec.sql.splitlines())
        assert not re.search(r"\b(SELECT|FROM|WHERE|JOIN|WITH|GROUP BY|ORDER BY|AS)\b", code), spec.slug
        assert code.strip().startswith("with"), spec.slug
        assert "final as (" in code, spec.slug
        assert "select *" not in code, spec.slug
        for table in spec.reads:
            alias = table.split(".")[1]
            assert re.search(rf"from {re.escape(table)} as {alias}\b", code), (spec.slug, table)


def test_multi_select_parameters_use_in_lists(specs: list[RedashQuerySpec]) -> None:
    by_slug = {spec.slug: spec for spec in specs}
    for slug in ("capacity_fade", "cycle_stats"):
        [parameter] = by_slug[slug].parameters
        assert (parameter.name, parameter.type, parameter.multi, parameter.query) == (
            "cell_id",
            "query",
            True,
            "cell_ids",
        )
        assert "in ({{ cell_id }})" in by_slug[slug].sql
    assert [s.slug for s in specs].index("cell_ids") < [s.slug for s in specs].index("capacity_fade")


def test_a_spec_with_an_undeclared_parameter_is_refused(tmp_path: Path) -> None:
    (tmp_path / "bad.yml").write_text("name: Bad\nreads: [blc.cell]\n")
    (tmp_path / "bad.sql").write_text(
        "select cell.cell_id from blc.cell as cell where cell.cell_id = {{ x }}\n"
    )

    with pytest.raises(RedashSpecError, match=r"bad\.yml.*uses \['x'\]"):
        load_query_specs(tmp_path)


@pytest.mark.parametrize(
    ("yml", "message"),
    [
        pytest.param("name: X\n", "'reads' must list", id="no-reads"),
        pytest.param("name: X\nreads: [cycle_stats]\n", "not a lower-case schema.table", id="unqualified"),
        pytest.param("reads: [blc.cell]\n", "'name' is required", id="no-name"),
        pytest.param("name: X\nreads: [blc.cell]\nowner: me\n", "unknown keys", id="typo-key"),
    ],
)
def test_malformed_specs_name_the_file_and_the_rule(tmp_path: Path, yml: str, message: str) -> None:
    (tmp_path / "x.yml").write_text(yml)
    (tmp_path / "x.sql").write_text("select 1\n")

    with pytest.raises(RedashSpecError, match=re.escape(message)):
        load_query_specs(tmp_path)


def test_dashboard_widgets_point_at_existing_queries_and_columns(specs: list[RedashQuerySpec]) -> None:
    by_slug = {spec.slug: spec for spec in specs}
    [dashboard] = [d for d in load_dashboard_specs(DASHBOARDS_DIR) if d.slug == "battery_overview"]

    assert {w.query for w in dashboard.widgets} >= REQUIRED_SLUGS
    for widget in dashboard.widgets:
        assert widget.query in by_slug, widget.title
        sql = by_slug[widget.query].sql
        viz = widget.visualization
        columns = [viz.get("x"), viz.get("group_by"), *viz.get("y", [])]
        for column in filter(None, columns):
            assert re.search(rf"\bfinal\.{column}\b", sql), (widget.title, column)
    for name in dashboard.parameters:
        assert any(p.name == name for w in dashboard.widgets for p in by_slug[str(w.query)].parameters)


# -- sync ------------------------------------------------------------------------------------------


def test_sync_creates_published_queries_then_changes_nothing(
    redash: FakeRedashServer, client: RedashClient, specs: list[RedashQuerySpec]
) -> None:
    first = sync_queries(client, specs, DATA_SOURCE_ID)

    assert set(first) == {spec.slug for spec in specs}
    assert len(redash.requests_to("POST", "/api/queries")) == len(specs)
    stored = {q["name"]: q for q in redash.queries.values()}
    assert len(stored) == len(specs)
    assert not any(q["is_draft"] for q in stored.values())
    fade = redash.queries[first["capacity_fade"]]
    assert fade["query"] == next(s.sql for s in specs if s.slug == "capacity_fade")
    assert fade["options"]["parameters"] == [
        {
            "name": "cell_id",
            "title": "Cells",
            "type": "query",
            "value": None,
            "global": False,
            "locals": [],
            "queryId": first["cell_ids"],
            "parentQueryId": first["capacity_fade"],
            "multiValuesOptions": {"prefix": "'", "suffix": "'", "separator": ","},
        }
    ]

    redash.clear_requests()
    second = sync_queries(client, specs, DATA_SOURCE_ID)

    assert second == first
    assert redash.requests_to("POST", r"/api/queries(/\d+)?") == []
    assert len(redash.queries) == len(specs)


def test_sync_updates_a_changed_query_in_place(
    redash: FakeRedashServer, client: RedashClient, specs: list[RedashQuerySpec], synced: dict[str, int]
) -> None:
    changed = [
        dataclasses.replace(s, sql=s.sql.replace("limit 1000", "limit 50"))
        if s.slug == "ingest_status"
        else s
        for s in specs
    ]

    assert sync_queries(client, changed, DATA_SOURCE_ID) == synced

    [update] = redash.requests_to("POST", r"/api/queries/\d+")
    assert update.path == f"/api/queries/{synced['ingest_status']}"
    assert "limit 50" in redash.queries[synced["ingest_status"]]["query"]
    assert redash.requests_to("POST", "/api/queries") == []


def test_list_queries_follows_pages(redash: FakeRedashServer, client: RedashClient) -> None:
    for number in range(260):
        redash.add_query(f"q{number}")

    names = {q["name"] for q in client.list_queries()}

    assert names == {f"q{number}" for number in range(260)}
    pages = redash.requests_to("GET", "/api/queries")
    assert [(r.query["page"], r.query["page_size"]) for r in pages] == [(["1"], ["250"]), (["2"], ["250"])]


# -- refresh ---------------------------------------------------------------------------------------


def test_refresh_of_a_query_without_parameters_finishes(
    redash: FakeRedashServer, synced: dict[str, int]
) -> None:
    [outcome] = refresh(redash, {"blc.source_file"})

    assert outcome.status == "finished", outcome
    assert outcome.query_id == synced["ingest_status"]
    assert outcome.name == "BLC: ingest status"
    assert outcome.error is None
    assert outcome.query_result_id == redash.queries[synced["ingest_status"]]["latest_query_data_id"]
    assert outcome.query_result_id in redash.query_results
    [post] = redash.requests_to("POST", r"/api/queries/\d+/results")
    assert post.body == {"parameters": {}, "max_age": 0}
    assert len(redash.requests_to("GET", r"/api/jobs/[\w-]+")) == redash.polls_to_finish
    assert json.loads(json.dumps(outcome.as_dict())) == outcome.as_dict()


def test_only_queries_reading_changed_tables_are_refreshed(
    redash: FakeRedashServer, synced: dict[str, int]
) -> None:
    offer_cells(redash, synced, "A", "B")

    outcomes = refresh(redash, {"cycle_stats"}, parameter_values={"cell_id": ["B"]})

    assert [(o.query_id, o.status) for o in outcomes] == [(synced["cycle_stats"], "finished")]
    assert refreshed_ids(redash) == [synced["cycle_stats"]]
    [post] = redash.requests_to("POST", r"/api/queries/\d+/results")
    assert post.body == {"parameters": {"cell_id": ["B"]}, "max_age": 0}
    [job] = [j for j in redash.jobs.values() if j["query_id"] == synced["cycle_stats"]]
    assert "cycle_stats.cell_id in ('B')" in job["query_text"]


def test_dropdown_query_is_refreshed_before_the_queries_using_it(
    redash: FakeRedashServer, synced: dict[str, int]
) -> None:
    redash.set_rows(synced["cell_ids"], [{"value": "A", "name": "A (NMC)"}])

    outcomes = refresh(redash, {"blc.cell_summary", "blc.cell"}, parameter_values={"cell_id": {"A"}})

    order = refreshed_ids(redash)
    assert order[0] == synced["cell_ids"]
    assert sorted(order[1:]) == sorted([synced["cell_list"], synced["capacity_fade"]])
    assert [o.status for o in outcomes] == ["finished"] * 3


def test_refresh_without_a_parameter_value_is_skipped(
    redash: FakeRedashServer, synced: dict[str, int]
) -> None:
    [outcome] = refresh(redash, {"blc.cycle_stats"})

    assert (outcome.status, outcome.query_id) == ("skipped", synced["cycle_stats"])
    assert "cell_id" in str(outcome.error)
    assert refreshed_ids(redash) == []


def test_a_value_outside_the_dropdown_fails_that_query(
    redash: FakeRedashServer, synced: dict[str, int]
) -> None:
    offer_cells(redash, synced, "A")

    [outcome] = refresh(redash, {"blc.cycle_stats"}, parameter_values={"cell_id": ["Z"]})

    assert outcome.status == "failed"
    assert "HTTP 400" in str(outcome.error)
    assert "incompatible with their definitions: cell_id" in str(outcome.error)


def test_a_failed_run_is_reported(redash: FakeRedashServer, synced: dict[str, int]) -> None:
    redash.fail_query(synced["ingest_status"], 'relation "blc.source_file" does not exist')

    [outcome] = refresh(redash, {"blc.source_file"})

    assert outcome.status == "failed"
    assert outcome.query_id == synced["ingest_status"]
    assert outcome.query_result_id is None
    assert outcome.error == 'relation "blc.source_file" does not exist'


def test_a_missing_parameter_is_a_failed_outcome(
    redash: FakeRedashServer, client: RedashClient, synced: dict[str, int]
) -> None:
    outcome = client.refresh_query(synced["capacity_fade"], {})

    assert outcome.status == "failed"
    assert outcome.name == "BLC: capacity fade"
    assert outcome.error == "Missing parameter value for: cell_id"


def test_a_query_missing_on_the_server_is_reported_not_raised(redash: FakeRedashServer) -> None:
    redash.add_query("something else")

    outcomes = refresh(redash, {"blc.source_file", "blc.cell"})

    assert {o.name for o in outcomes} == {"BLC: ingest status", "BLC: cell list", "BLC: cell ids (dropdown)"}
    assert all(o.status == "failed" and o.query_id is None for o in outcomes)
    assert all("run `blc redash sync`" in str(o.error) for o in outcomes)
    assert refreshed_ids(redash) == []


def test_a_wrong_key_raises_naming_the_status(
    redash: FakeRedashServer, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    wrong_key = "not-the-key-0123456789"

    with pytest.raises(RedashError) as raised:
        refresh_touched_queries(
            {"blc.source_file"}, base_url=redash.url, api_key=wrong_key, queries_dir=QUERIES_DIR, **FAST
        )

    assert raised.value.status_code == 404
    assert "HTTP 404" in str(raised.value)
    assert LOGIN_MESSAGE in str(raised.value)
    assert wrong_key not in str(raised.value)
    assert wrong_key not in caplog.text
    assert [r.authorized for r in redash.requests] == [False]


def test_a_job_that_never_finishes_times_out(redash: FakeRedashServer, synced: dict[str, int]) -> None:
    redash.stall_query(synced["ingest_status"])
    slow_client = RedashClient(redash.url, redash.api_key, poll_interval_s=0.01, timeout_s=0.2)

    with pytest.raises(RedashError, match=r"'BLC: ingest status' \(id \d+\).*still started \(status 2\)"):
        slow_client.refresh_query(synced["ingest_status"], name="BLC: ingest status")


def test_an_unreachable_server_is_a_redash_error() -> None:
    with FakeRedashServer() as gone:
        url, key = gone.url, gone.api_key

    with pytest.raises(RedashError, match="list queries") as raised:
        RedashClient(url, key, timeout_s=2).list_queries()
    assert key not in str(raised.value)


# -- the fake keeps the real server's habits ------------------------------------------------------


def test_fake_follows_redash_conventions(redash: FakeRedashServer, client: RedashClient) -> None:
    def call(method: str, path: str, **kwargs: object) -> requests.Response:
        return requests.request(method, redash.url + path, timeout=5, **kwargs)  # type: ignore[arg-type]

    auth = {"Authorization": f"Key {redash.api_key}"}
    created = call(
        "POST", "/api/queries", headers=auth, json={"name": "n", "query": "select 1", "data_source_id": 1}
    )
    query_id = created.json()["id"]

    assert created.json()["is_draft"] is True
    assert created.json()["visualizations"][0]["type"] == "TABLE"
    assert call("GET", f"/api/queries/{query_id}", params={"api_key": redash.api_key}).status_code == 200
    assert call("GET", "/api/queries").json() == {"message": LOGIN_MESSAGE}
    assert call("GET", "/api/queries", headers=auth, params={"page_size": 251}).status_code == 400
    assert call("GET", "/api/queries", headers=auth, params={"page": 2}).status_code == 400
    assert (
        call("POST", "/api/queries", headers=auth, json={"name": "n", "query": "select 1"}).status_code == 500
    )
    assert call("GET", "/api/jobs/no-such-job", headers=auth).status_code == 500
    assert call("GET", "/api/queries/999", headers=auth).status_code == 404

    first = call("POST", f"/api/queries/{query_id}/results", headers=auth, json={"max_age": 0}).json()["job"]
    again = call("POST", f"/api/queries/{query_id}/results", headers=auth, json={"max_age": 0}).json()["job"]
    assert (first["status"], first["updated_at"], again["id"]) == (1, 0, first["id"])
    job = client.get_job(first["id"])
    assert job["status"] == 2
    job = client.get_job(first["id"])
    assert (job["status"], job["error"], job["result"]) == (3, "", job["query_result_id"])
    assert client.get_query_result(job["query_result_id"])["query"] == "select 1"
    cached = call("POST", f"/api/queries/{query_id}/results", headers=auth, json={}).json()
    assert cached["query_result"]["id"] == job["query_result_id"]
