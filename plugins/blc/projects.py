"""Projects and who may read them (docs/access.md).

Every cell belongs to one project. `add` makes the project (if no ingest made it yet) and its read-only
role ``blc_project_<name>``; `grant` lets an existing role (a Redash data source's login, a colleague's
login) read the project by making it a member of that role; row-level security (migration 0018) does the
rest, in every tool that connects as such a role. Creating roles needs CREATEROLE (the owner role of the
deployment has it: deploy/postgres/init.sql).
"""

from __future__ import annotations

from dataclasses import dataclass

import sqlalchemy as sa
from psycopg2 import sql
from sqlalchemy.engine import Connection, Engine

from blc.catalog import ensure_project
from blc.ingest import project_name

#: Every project role holds this one: the privileges to read (not the rows: the policies decide those).
READER_ROLE = "blc_reader"


class ProjectError(ValueError):
    """A project or role that does not exist, or a name that is no name: the user's input."""


def role_name(project: str) -> str:
    return f"blc_project_{project_name(project)}"


def _role_exists(conn: Connection, role: str) -> bool:
    return conn.execute(sa.text("select 1 from pg_roles where rolname = :r"), {"r": role}).first() is not None


def _run(conn: Connection, statement: sql.Composable) -> None:
    cursor = conn.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    cursor.execute(statement)


def add(engine: Engine, project: str) -> tuple[str, bool]:
    """Make the project and its role; (role, whether the role is new). Safe to run again."""
    name = project_name(project)
    role = role_name(name)
    with engine.begin() as conn:
        ensure_project(conn, name)
        created = not _role_exists(conn, role)
        if created:
            _run(conn, sql.SQL("create role {} nologin").format(sql.Identifier(role)))
        _run(conn, sql.SQL("grant {} to {}").format(sql.Identifier(READER_ROLE), sql.Identifier(role)))
    return role, created


def grant(engine: Engine, project: str, member: str) -> str:
    """Let `member` (an existing role) read the project; the project's role."""
    name = project_name(project)
    role = role_name(name)
    with engine.begin() as conn:
        if conn.execute(sa.text("select 1 from blc.project where name = :n"), {"n": name}).first() is None:
            raise ProjectError(f"no project {name!r} (see `blc project list`)")
        if not _role_exists(conn, role):
            raise ProjectError(f"project {name!r} has no role yet: run `blc project add {name}` first")
        if not _role_exists(conn, member):
            raise ProjectError(f"no database role {member!r}: create it first (create role … login)")
        _run(conn, sql.SQL("grant {} to {}").format(sql.Identifier(role), sql.Identifier(member)))
    return role


@dataclass(frozen=True)
class ProjectRow:
    name: str
    cells: int
    files: int
    role: str | None
    members: tuple[str, ...]


def listing(engine: Engine) -> list[ProjectRow]:
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select project.name, count(distinct cell.cell_id) as cells,"
                " count(distinct file.file_id) as files, project_role.rolname as role,"
                " coalesce(array_agg(distinct member.rolname) filter (where member.rolname is not null),"
                " '{}') as members"
                " from blc.project as project"
                " left join blc.cell as cell on cell.project_id = project.project_id"
                " left join blc.source_file as file on file.cell_id = cell.cell_id"
                " left join pg_roles as project_role on project_role.rolname = 'blc_project_' || project.name"
                " left join pg_auth_members as membership on membership.roleid = project_role.oid"
                " left join pg_roles as member on member.oid = membership.member"
                " group by project.name, project_role.rolname order by project.name"
            )
        ).all()
    return [ProjectRow(r.name, int(r.cells), int(r.files), r.role, tuple(r.members)) for r in rows]
