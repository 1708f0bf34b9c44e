"""What `blc` says when something goes wrong: one line and an exit code (2 bad input or configuration, 1
infrastructure or unexpected), never a password or an API key."""

from __future__ import annotations

import os
import re
import sys

from blc.settings import get_settings
from blc.tables import as_text

EXIT_OK, EXIT_ERROR, EXIT_BAD_INPUT = 0, 1, 2


class BadInput(Exception):
    """Bad input or configuration: one line, exit 2."""


def os_reason(exc: OSError) -> str:
    return (exc.strerror or str(exc) or type(exc).__name__).lower()


#: A path given that is not there or cannot be used: bad input (exit 2), not an infrastructure error.
PATH_ERRORS = (FileNotFoundError, PermissionError, NotADirectoryError, IsADirectoryError, FileExistsError)
#: libpq's complaints about the connection string itself (a malformed BLC_DATABASE_URL, not a down server).
BAD_CONNINFO = re.compile(r'^(invalid dsn|invalid \w+ value|invalid connection option|missing "=")')


def explain(exc: BaseException) -> tuple[int, str]:
    """The exit code and the one-line message for an exception that reached main()."""
    import requests
    import sqlalchemy.exc

    from blc.errors import ConfigurationError, MigrationChanged, SchemaNotCurrent
    from blc.redash_specs import RedashError, RedashSpecError

    # MigrationChanged, SchemaNotCurrent: the database and the code disagree; the message says what to do.
    if isinstance(exc, BadInput | ConfigurationError | MigrationChanged | SchemaNotCurrent):
        return EXIT_BAD_INPUT, str(exc)
    driver: BaseException = exc
    if isinstance(exc, sqlalchemy.exc.DBAPIError) and exc.orig is not None:
        driver = exc.orig
    if _is_psycopg2_error(driver, "Error") and BAD_CONNINFO.match(_first_line(driver)):
        return EXIT_BAD_INPUT, f"BLC_DATABASE_URL is not valid ({_first_line(driver)})"
    if _is_psycopg2_error(driver, "OperationalError"):
        first = _first_line(driver)
        code = getattr(driver, "pgcode", None)
        if code and not str(code).startswith(("08", "28", "3D", "53", "57P")):  # not about connecting
            return EXIT_ERROR, f"database error: {first}"
        return EXIT_ERROR, f"database unreachable at {_database_location()} ({first}); check BLC_DATABASE_URL"
    if isinstance(exc, RedashSpecError):
        return EXIT_BAD_INPUT, f"Redash query files: {exc}"
    if isinstance(exc, RedashError) and exc.status_code is not None:
        if 400 <= exc.status_code < 500:  # a wrong or missing key answers 404
            return EXIT_BAD_INPUT, f"Redash refused the request: {exc}"
        return EXIT_ERROR, f"Redash failed: {exc}"
    network = exc.__cause__ if isinstance(exc, RedashError) else exc
    if isinstance(network, requests.RequestException):
        where = get_settings().redash_url or "BLC_REDASH_URL"
        return EXIT_ERROR, f"Redash unreachable at {where} ({_network_reason(network)}); check BLC_REDASH_URL"
    if isinstance(exc, RedashError):
        return EXIT_ERROR, f"Redash: {exc}"
    from blc.s3 import S3Unavailable

    if isinstance(exc, S3Unavailable):
        return EXIT_ERROR, f"{exc}; check the S3 endpoint and credentials (BLC_S3_CONN_ID or AWS_*)"
    if isinstance(exc, PATH_ERRORS):  # e.g. `blc export --to` a folder that cannot be written
        return EXIT_BAD_INPUT, f"{exc.filename or 'a path'}: {os_reason(exc)}"
    return EXIT_ERROR, f"unexpected error: {type(exc).__name__}: {exc} (run with --debug for the traceback)"


def _is_psycopg2_error(exc: BaseException, name: str) -> bool:
    module = sys.modules.get("psycopg2")
    cls = getattr(module, name, None) if module is not None else None
    return isinstance(cls, type) and isinstance(exc, cls)


def _first_line(exc: BaseException) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip()]
    return lines[0] if lines else type(exc).__name__


def _database_location() -> str:
    """host:port/database of BLC_DATABASE_URL (never its password), or the embedded server's folder."""
    from sqlalchemy.engine import make_url

    raw = os.environ.get("BLC_DATABASE_URL")
    if not raw:
        return f"the embedded Postgres in {get_settings().embedded_pgdata}"
    try:
        url = make_url(raw)
    except Exception:
        return "BLC_DATABASE_URL"
    host = url.host or url.query.get("host") or "localhost"
    return f"{host}:{url.port or 5432}/{url.database or ''}"


def _network_reason(exc: BaseException) -> str:
    text = str(exc)
    errno = re.search(r"\[Errno -?\d+\] ([^'\")\]]+)", text)
    if errno:
        return errno.group(1).strip().lower()
    if "timed out" in text.lower():
        return "timed out"
    return _first_line(exc)


def redact_url(url: str) -> str:
    """A URL with its password replaced by ***."""
    return re.sub(r"(://[^/:@]*:)[^@/]*@", r"\1***@", url)


def secrets() -> list[str]:
    """Values never to print: the database password and the Redash API key."""
    from urllib.parse import unquote, urlsplit

    found = []
    try:
        password = urlsplit(os.environ.get("BLC_DATABASE_URL", "")).password
    except ValueError:
        password = None
    if password:
        found += [password, unquote(password)]
    key = os.environ.get("BLC_REDASH_API_KEY")
    if key:
        found.append(key)
    return [value for value in found if len(value) >= 3]


def say(message: str) -> None:
    """One line on stderr, `blc: …`, with no secret in it."""
    line = redact_url(as_text(message))
    for secret in secrets():
        line = line.replace(secret, "***")
    print(f"blc: {line}", file=sys.stderr)


def quiet_stdout() -> None:
    """After a broken pipe, stop Python from reporting it again when it flushes stdout at exit."""
    devnull = os.open(os.devnull, os.O_WRONLY)
    os.dup2(devnull, sys.stdout.fileno())
