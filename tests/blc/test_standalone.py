"""`make up` / `make down` (blc.standalone) for real: one embedded Postgres, Airflow standalone, the login as
the last lines, and nothing left running after Ctrl+C or `down`. About 30-40 s per `up`."""

from __future__ import annotations

import contextlib
import json
import os
import re
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest

from blc.airflow_env import admin_token, free_port, rest

pytestmark = pytest.mark.integration

ROOT = Path(__file__).resolve().parents[2]
READY_TIMEOUT_S = 120
STOP_TIMEOUT_S = 60


def _env(home: Path, drops: Path) -> dict[str, str]:
    # conftest.py points AIRFLOW_HOME and AIRFLOW__* at the session's Airflow: `up` must run its own.
    env = {k: v for k, v in os.environ.items() if not k.startswith(("AIRFLOW", "BLC_"))}
    env.update(BLC_HOME=str(home), BLC_SHARE_DIRS=str(drops), PYTHONPATH=str(ROOT / "plugins"))
    return env  # BLC_DATABASE_URL unset: the embedded Postgres


def _standalone(env: dict[str, str], *args: str, **kwargs: object) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "blc.standalone", *args],
        env=env,
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        **kwargs,  # type: ignore[call-overload]
    )


class Up:
    """`python -m blc.standalone up` with its stdout collected line by line."""

    def __init__(self, env: dict[str, str], port: int, stderr: Path) -> None:
        self.port = port
        self.lines: list[str] = []
        self._stderr = stderr
        with stderr.open("w") as stderr_file:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "blc.standalone", "up", "--port", str(port)],
                env=env,
                cwd=ROOT,
                stdout=subprocess.PIPE,
                stderr=stderr_file,
                text=True,
            )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self) -> None:
        assert self.proc.stdout is not None
        for line in self.proc.stdout:
            self.lines.append(line.rstrip("\n"))

    def output(self) -> str:
        return "\n".join(self.lines) + "\n--- stderr:\n" + self._stderr.read_text()

    def wait_ready(self) -> list[str]:
        deadline = time.monotonic() + READY_TIMEOUT_S
        while not any(line.startswith("Ctrl+C") for line in self.lines):
            assert self.proc.poll() is None, f"up exited with {self.proc.returncode}:\n{self.output()}"
            assert time.monotonic() < deadline, f"not ready in {READY_TIMEOUT_S} s:\n{self.output()}"
            time.sleep(0.5)
        time.sleep(1)  # nothing may follow the last line
        return self.lines[-4:]


def _health_answers(port: int) -> bool:
    try:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/v2/monitor/health", timeout=3) as response:
            return bool(response.status == 200)
    except OSError:
        return False


def _live_processes() -> Iterator[tuple[int, int, bytes, bytes]]:
    """(pid, session id, command line, environment) of every process but zombies (in a container nobody
    may ever reap them) and this one."""
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            stat = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            cmdline = (entry / "cmdline").read_bytes()
            environ = (entry / "environ").read_bytes()
        except OSError:
            continue
        if stat[0] != "Z":
            yield int(entry.name), int(stat[3]), cmdline, environ


def _processes_mentioning(text: str) -> dict[int, str]:
    """Live processes whose command line or environment mentions `text`."""
    needle = text.encode()
    return {
        pid: cmdline.replace(b"\0", b" ").decode(errors="replace")
        for pid, _, cmdline, environ in _live_processes()
        if needle in cmdline or needle in environ
    }


def _session(sid: int) -> list[int]:
    # Airflow's api-server retitles itself (setproctitle), which overwrites what /proc shows of its
    # environment: the session id (standalone's own, recorded in up.pid) finds it anyway.
    return [pid for pid, session, _, _ in _live_processes() if session == sid]


def _postmasters(pgdata: Path) -> dict[int, str]:
    return {
        pid: cmd
        for pid, cmd in _processes_mentioning(str(pgdata)).items()
        if Path(cmd.split(" ", 1)[0]).name == "postgres" and str(pgdata) in cmd
    }


def _assert_ready(up: Up, drops: Path, home: Path) -> int:
    """Checks the ready state; returns Airflow's session id."""
    last = up.wait_ready()
    assert re.fullmatch(rf"blc_watch unpaused, watching {re.escape(str(drops))} \(settle 10 s\)", last[0]), (
        up.output()
    )
    assert last[1] == f"Airflow UI: http://localhost:{up.port}", up.output()
    assert re.fullmatch(r"login: admin / \S+", last[2]), up.output()
    assert last[3] == "Ctrl+C or `make down` stops everything.", up.output()
    running = _processes_mentioning(str(home))
    assert len(_postmasters(home / "pgdata")) == 1, running
    assert any("airflow scheduler" in cmd for cmd in running.values()), running  # the /proc scan sees them
    assert _health_answers(up.port)
    sid = json.loads((home / "up.pid").read_text())["airflow_sid"]
    assert len(_session(sid)) >= 4, _session(sid)  # standalone, scheduler, dag-processor, api-server…
    return int(sid)


def _assert_all_gone(up: Up, home: Path, sid: int) -> None:
    deadline = time.monotonic() + 10  # reparented children may take a moment after `up` has returned
    while (_processes_mentioning(str(home)) or _session(sid)) and time.monotonic() < deadline:
        time.sleep(0.5)
    assert _processes_mentioning(str(home)) == {}, up.output()
    assert _session(sid) == [], up.output()
    assert not _health_answers(up.port)
    assert not (home / "up.pid").exists()


@pytest.fixture
def session_dirs(tmp_path: Path) -> Iterator[tuple[Path, Path]]:
    home, drops = tmp_path / "home", tmp_path / "drops"
    drops.mkdir()
    yield home, drops
    # A failed test must not leave Airflow or Postgres behind: stop what is still there (ours only: every
    # process that mentions this test's own temporary home, and the Airflow session its up.pid records).
    leftovers = set(_processes_mentioning(str(home)))
    with contextlib.suppress(OSError, ValueError, KeyError, TypeError):
        leftovers.update(_session(int(json.loads((home / "up.pid").read_text())["airflow_sid"])))
    for pid in leftovers:
        with contextlib.suppress(ProcessLookupError):
            os.kill(pid, signal.SIGKILL)


def test_up_prints_the_login_last_and_ctrl_c_stops_everything(
    session_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    home, drops = session_dirs
    up = Up(_env(home, drops), free_port(), tmp_path / "up.stderr")
    try:
        sid = _assert_ready(up, drops, home)
        assert (home / "airflow" / "standalone.log").stat().st_size > 0  # Airflow's output went there

        up.proc.send_signal(signal.SIGINT)
        assert up.proc.wait(timeout=STOP_TIMEOUT_S) == 0, up.output()
        _assert_all_gone(up, home, sid)
    finally:
        if up.proc.poll() is None:
            up.proc.kill()


def test_down_stops_a_running_up(session_dirs: tuple[Path, Path], tmp_path: Path) -> None:
    home, drops = session_dirs
    env = _env(home, drops)
    idle = _standalone(env, "down", timeout=60)
    assert (idle.returncode, idle.stdout.strip()) == (0, "nothing running"), idle.stdout + idle.stderr

    up = Up(env, free_port(), tmp_path / "up.stderr")
    try:
        sid = _assert_ready(up, drops, home)
        down = _standalone(env, "down", timeout=STOP_TIMEOUT_S)
        assert down.returncode == 0, down.stdout + down.stderr
        assert down.stdout.strip().endswith("stopped"), down.stdout
        assert up.proc.wait(timeout=10) == 0, up.output()
        _assert_all_gone(up, home, sid)
    finally:
        if up.proc.poll() is None:
            up.proc.kill()


def _runs(port: int, token: str) -> list[dict]:  # type: ignore[type-arg]
    return rest(port, "GET", "/api/v2/dags/blc_watch/dagRuns?limit=100", token)["dag_runs"]  # type: ignore[no-any-return]


def _trigger(port: int, token: str) -> dict:  # type: ignore[type-arg]
    return rest(port, "POST", "/api/v2/dags/blc_watch/dagRuns", token, {"logical_date": None})  # type: ignore[no-any-return]


def _ledger(env: dict[str, str]) -> dict[str, str]:
    listed = subprocess.run(
        [str(Path(sys.executable).with_name("blc")), "files", "--format", "json"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
        timeout=60,
    )
    return {row["file"]: row["status"] for row in json.loads(listed.stdout)}


def _wait_for(what: str, check, up: Up, timeout_s: float = 180):  # type: ignore[no-untyped-def]
    deadline = time.monotonic() + timeout_s
    while not (found := check()):
        assert up.proc.poll() is None, up.output()
        assert time.monotonic() < deadline, f"{what}: not within {timeout_s} s\n{up.output()}"
        time.sleep(2)
    return found


def test_files_dropped_while_the_scheduler_runs_give_runs_of_the_right_colour(
    session_dirs: tuple[Path, Path], tmp_path: Path
) -> None:
    """The real scheduler (not dag.test()): a good file dropped into the watched folder is loaded by a
    green run, a bad one dropped later is quarantined by a red run, and the run after it is green again."""
    home, drops = session_dirs
    env = {**_env(home, drops), "BLC_SETTLE_SECONDS": "0"}
    up = Up(env, free_port(), tmp_path / "up.stderr")
    try:
        up.wait_ready()
        token = admin_token(up.port, home / "airflow")

        def settled(expected: dict[str, str]):  # type: ignore[no-untyped-def]
            def check():  # type: ignore[no-untyped-def]
                runs = _runs(up.port, token)
                if not runs or any(r["state"] not in ("success", "failed") for r in runs):
                    return None
                return runs if _ledger(env) == expected else None

            return check

        example = (ROOT / "tests" / "data" / "arbin" / "arbin_example.csv").read_bytes()
        (drops / "good.csv").write_bytes(example)
        _trigger(up.port, token)  # sooner than the next scheduled run
        after_good = _wait_for("good.csv processed", settled({"good.csv": "processed"}), up)
        assert {r["state"] for r in after_good} == {"success"}, after_good

        lines = example.splitlines(keepends=True)
        lines[500] = lines[500][:20] + b"\n"  # a row cut short: quarantined
        (drops / "bad.csv").write_bytes(b"".join(lines))
        _trigger(up.port, token)
        after_bad = _wait_for(
            "bad.csv quarantined", settled({"good.csv": "processed", "bad.csv": "quarantined"}), up
        )
        new_runs = [r for r in after_bad if r["dag_run_id"] not in {g["dag_run_id"] for g in after_good}]
        assert [r["state"] for r in new_runs if r["state"] == "failed"] == ["failed"], new_runs

        triggered = _trigger(up.port, token)
        final = _wait_for(
            "the next run",
            lambda: next(
                (
                    r
                    for r in _runs(up.port, token)
                    if r["dag_run_id"] == triggered["dag_run_id"] and r["state"] in ("success", "failed")
                ),
                None,
            ),
            up,
        )
        assert final["state"] == "success"  # the quarantined file is settled: nothing left to fail on

        # Backfills through the REST API, as docs/backfill.md shows them: blc_watch over a range of dates
        # (each run finds nothing new), then blc_reprocess for a list of cells.
        window = {
            "from_date": "2026-12-01T00:00:00Z",
            "to_date": "2026-12-01T00:02:00Z",
            "max_active_runs": 1,
        }
        backfill = rest(up.port, "POST", "/api/v2/backfills", token, {"dag_id": "blc_watch", **window})
        assert backfill["dag_id"] == "blc_watch"

        def backfill_runs_done():  # type: ignore[no-untyped-def]
            runs = [r for r in _runs(up.port, token) if r["run_type"] == "backfill"]
            return runs if len(runs) == 3 and all(r["state"] in ("success", "failed") for r in runs) else None

        backfilled = _wait_for("three backfill runs", backfill_runs_done, up)
        assert sorted(r["logical_date"][:16] for r in backfilled) == [
            "2026-12-01T00:00",
            "2026-12-01T00:01",
            "2026-12-01T00:02",
        ]
        assert {r["state"] for r in backfilled} == {"success"}
        rest(up.port, "PATCH", "/api/v2/dags/blc_reprocess", token, {"is_paused": False})
        conf = {"logical_date": None, "conf": {"cells": ["good"]}}
        run = rest(up.port, "POST", "/api/v2/dags/blc_reprocess/dagRuns", token, conf)
        path = f"/api/v2/dags/blc_reprocess/dagRuns/{run['dag_run_id']}"

        def reprocessed():  # type: ignore[no-untyped-def]
            found = rest(up.port, "GET", path, token)
            return found if found["state"] in ("success", "failed") else None

        done = _wait_for("the reprocess run", reprocessed, up)
        assert done["state"] == "success"
        cells = rest(up.port, "GET", f"{path}/taskInstances?task_id=reprocess_cell", token)
        assert [ti["rendered_map_index"] for ti in cells["task_instances"]] == ["good"]
    finally:
        up.proc.send_signal(signal.SIGINT)
        with contextlib.suppress(subprocess.TimeoutExpired):
            up.proc.wait(timeout=STOP_TIMEOUT_S)
        if up.proc.poll() is None:
            up.proc.kill()
