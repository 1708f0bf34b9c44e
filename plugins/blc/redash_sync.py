"""Redash queries and their data source as code: `blc redash sync`.

Queries live in ``redash/queries/<slug>.sql`` with a ``<slug>.yml`` beside it (name, description, the
tables the query ``reads`` and its parameters; blc.redash_specs reads them). ``sync_queries`` creates or
updates them on a Redash server, keyed on the query name; ``sync_data_source`` makes the Postgres data
source they run on.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from typing import Any

from blc.redash_client import RedashClient
from blc.redash_specs import RedashQuerySpec, RedashSpecError, order_by_dropdowns

log = logging.getLogger(__name__)


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
