"""Errors reach users as one line on stderr and an exit code (1 infrastructure, 2 bad input or
configuration), never as a traceback unless `--debug`, and never with a password in them."""

from __future__ import annotations

import os
import subprocess
import sys
from collections.abc import Iterator
from pathlib import Path

import pytest

from blc import cli, queries
from tests.fakes.redash_server import FakeRedashServer

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = DATA / "arbin" / "arbin_example.csv"
BLC = str(Path(sys.executable).with_name("blc"))
PASSWORD = "Sup3rSecretPw"
NO_DATABASE = f"postgresql://nobody:{PASSWORD}@127.0.0.1:1/x"  # nothing listens on port 1
REDASH_KEY = "my-redash-api-key-0123"

pytestmark = pytest.mark.integration


def blc(*args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BLC, *args], capture_output=True, text=True, timeout=180, env={**os.environ, **env}
    )


def assert_one_line(result: subprocess.CompletedProcess[str], code: int, *secrets: str) -> str:
    assert result.returncode == code, result.stderr
    lines = result.stderr.splitlines()
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("blc: ")
    assert "Traceback" not in result.stderr
    for secret in secrets:
        assert secret not in result.stderr and secret not in result.stdout
    return lines[0]


@pytest.fixture
def home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """No database, no Redash from the session: each test sets what it needs."""
    monkeypatch.setenv("BLC_HOME", str(tmp_path / "home"))
    for name in ("BLC_DATABASE_URL", "BLC_REDASH_URL", "BLC_REDASH_API_KEY"):
        monkeypatch.delenv(name, raising=False)
    return tmp_path


@pytest.mark.parametrize(
    "args",
    [
        ("files",),
        ("status", "1"),
        ("cells",),
        ("cycles", "arbin_example"),
        ("db", "upgrade"),
        ("ingest", str(EXAMPLE)),
    ],
    ids=lambda args: args[0],
)
def test_database_unreachable_is_one_line_exit_1_without_the_password(
    home: Path, args: tuple[str, ...]
) -> None:
    line = assert_one_line(blc(*args, BLC_DATABASE_URL=NO_DATABASE), 1, PASSWORD)

    assert line.startswith("blc: database unreachable at 127.0.0.1:1/x (")
    assert "Connection refused" in line and line.endswith("check BLC_DATABASE_URL")


def test_debug_shows_the_traceback(home: Path) -> None:
    result = blc("--debug", "files", BLC_DATABASE_URL=NO_DATABASE)
    after_the_command = blc("files", "--debug", BLC_DATABASE_URL=NO_DATABASE)

    for run in (result, after_the_command):
        assert run.returncode == 1
        assert "Traceback (most recent call last)" in run.stderr
        assert "OperationalError" in run.stderr
        assert run.stderr.splitlines()[-1].startswith("blc: database unreachable at 127.0.0.1:1/x")
        assert PASSWORD not in run.stderr


@pytest.mark.parametrize(
    "url",
    [f"mysql://nobody:{PASSWORD}@127.0.0.1/x", f"postgresql://nobody:{PASSWORD}@127.0.0.1:notaport/x"],
    ids=["scheme", "port"],
)
def test_malformed_database_url_is_configuration_exit_2(home: Path, url: str) -> None:
    line = assert_one_line(blc("files", BLC_DATABASE_URL=url), 2, PASSWORD)

    assert line.startswith("blc: BLC_DATABASE_URL is not a valid postgresql:// URL")


def test_bad_option_is_one_line_exit_2(home: Path) -> None:
    for args in (("cells", "--format", "xml"), ("files", "--status", "lost"), ("frobnicate",)):
        assert_one_line(blc(*args), 2)


def test_unexpected_error_is_one_line_exit_1_and_debug_adds_the_traceback(
    blc_env: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    def broken(engine):  # type: ignore[no-untyped-def]
        raise RuntimeError("the overview broke\non two lines")

    monkeypatch.setattr(queries, "cell_overview", broken)

    code = cli.main(["cells"])
    plain = capsys.readouterr()
    debug_code = cli.main(["--debug", "cells"])
    debug = capsys.readouterr()

    assert code == debug_code == 1
    assert plain.err.splitlines() == [
        "blc: unexpected error: RuntimeError: the overview broke on two lines"
        " (run with --debug for the traceback)"
    ]
    assert "Traceback (most recent call last)" in debug.err and "in broken" in debug.err
    assert debug.err.splitlines()[-1] == plain.err.splitlines()[0]


@pytest.fixture
def redash() -> Iterator[FakeRedashServer]:
    with FakeRedashServer() as server:
        yield server


@pytest.mark.parametrize("action", ["refresh", "sync"])
def test_redash_down_is_one_line_exit_1(home: Path, action: str) -> None:
    result = blc("redash", action, BLC_REDASH_URL="http://127.0.0.1:1", BLC_REDASH_API_KEY=REDASH_KEY)

    line = assert_one_line(result, 1, REDASH_KEY)
    assert line.startswith("blc: Redash unreachable at http://127.0.0.1:1 (")


@pytest.mark.parametrize("action", ["refresh", "sync"])
def test_redash_wrong_key_is_one_line_exit_2(home: Path, redash: FakeRedashServer, action: str) -> None:
    result = blc("redash", action, BLC_REDASH_URL=redash.url, BLC_REDASH_API_KEY=REDASH_KEY)

    line = assert_one_line(result, 2, REDASH_KEY)
    assert "HTTP 404" in line and "check BLC_REDASH_API_KEY" in line


def test_redash_without_url_or_key(home: Path) -> None:
    sync = blc("redash", "sync")
    refresh_without_key = blc("redash", "refresh", BLC_REDASH_URL="http://127.0.0.1:1")
    refresh_without_url = blc("redash", "refresh")

    assert "BLC_REDASH_URL" in assert_one_line(sync, 2)
    assert "BLC_REDASH_API_KEY" in assert_one_line(refresh_without_key, 2)
    assert refresh_without_url.returncode == 0  # nothing to refresh: the DAGs run without Redash too
    assert "BLC_REDASH_URL is not set" in refresh_without_url.stdout
