"""Which errors are the platform's (retry) and which the file's (quarantine), and how an unexpected error is
told in one line."""

from __future__ import annotations

import errno

import psycopg2
import psycopg2.errors
import pytest
import sqlalchemy as sa
import sqlalchemy.exc

from blc.errors import UnreadableFile, describe_exception, is_infrastructure

pytestmark = pytest.mark.integration


def _database_error(engine: sa.Engine, sql: str) -> sqlalchemy.exc.DBAPIError:
    with pytest.raises(sqlalchemy.exc.DBAPIError) as caught, engine.begin() as conn:
        conn.execute(sa.text(sql))
    return caught.value


def test_rows_the_database_refuses_are_the_files_fault(engine: sa.Engine) -> None:
    # real errors from the real server: SQLSTATE 22003, 23502, 23514
    out_of_range = _database_error(engine, "select cast(99999999999 as integer)")
    not_null = _database_error(
        engine, "create temporary table t (v double precision not null); insert into t values (null)"
    )
    check = _database_error(
        engine, "create temporary table c (v integer check (v > 0)); insert into c values (-1)"
    )
    assert [e.orig.pgcode for e in (out_of_range, not_null, check)] == ["22003", "23502", "23514"]
    assert not any(is_infrastructure(e) for e in (out_of_range, not_null, check))


def test_other_database_errors_are_the_platforms(engine: sa.Engine) -> None:
    unique = _database_error(
        engine, "create temporary table u (v integer primary key); insert into u values (1), (1)"
    )
    missing = _database_error(engine, "select * from blc.no_such_table")
    assert is_infrastructure(unique) and is_infrastructure(missing)
    down = sqlalchemy.exc.OperationalError("select 1", {}, psycopg2.OperationalError("connection refused"))
    assert is_infrastructure(down)


def test_os_and_python_errors() -> None:
    assert is_infrastructure(OSError(errno.ENOSPC, "No space left on device"))
    assert is_infrastructure(ConnectionResetError())
    assert is_infrastructure(TimeoutError())
    assert not is_infrastructure(PermissionError(errno.EACCES, "Permission denied"))
    assert not is_infrastructure(ValueError("project name '!!!' has no letters or digits"))
    assert not is_infrastructure(OverflowError("math range error"))
    assert not is_infrastructure(MemoryError())


def test_an_unexpected_error_is_one_bounded_escaped_line() -> None:
    error = UnreadableFile("x.csv", ValueError("bad \x1b[31m value\nsecond line " + "z" * 500))

    assert str(error).startswith("x.csv: could not be read (ValueError: bad \\x1b[31m value")
    assert "\n" not in str(error) and "second line" not in str(error)
    assert len(str(error)) < 300
    assert describe_exception(KeyError()) == "KeyError"
