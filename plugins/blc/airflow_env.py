"""The Airflow environment of this project: AIRFLOW_HOME under .blc/, our dags/ and plugins/ folders.

`blc airflow …` and `make up` use it, so `blc airflow dags test blc_watch` works from anywhere.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path
from typing import Any

from blc.settings import Settings, get_settings


def airflow_environment(
    settings: Settings | None = None, base: dict[str, str] | None = None
) -> dict[str, str]:
    settings = settings or get_settings()
    env = dict(os.environ if base is None else base)
    root = settings.project_root
    env.setdefault("AIRFLOW_HOME", str(settings.airflow_home))
    env.setdefault("AIRFLOW__CORE__DAGS_FOLDER", str(root / "dags"))
    env.setdefault("AIRFLOW__CORE__PLUGINS_FOLDER", str(root / "plugins"))
    env.setdefault("AIRFLOW__CORE__LOAD_EXAMPLES", "False")
    env.setdefault("AIRFLOW__CORE__EXECUTOR", "LocalExecutor")
    # The default parallelism of 32 forks 32 workers (about 1.2 GB); four is plenty on a laptop.
    env.setdefault("AIRFLOW__CORE__PARALLELISM", "4")
    env.setdefault("AIRFLOW__CORE__DAGS_ARE_PAUSED_AT_CREATION", "True")
    env.setdefault("AIRFLOW__DAG_PROCESSOR__REFRESH_INTERVAL", "30")
    env.setdefault("AIRFLOW__LOGGING__LOGGING_LEVEL", "INFO")
    # Tasks must find the same embedded Postgres, settings and SQL as the CLI.
    env.setdefault("BLC_HOME", str(settings.home))
    env.setdefault("BLC_PROJECT_ROOT", str(root))
    env.setdefault("BLC_SHARE_DIRS", ",".join(str(p) for p in settings.share_dirs))
    env.setdefault("PYTHONPATH", str(root / "plugins"))
    # `airflow standalone` starts its components as `airflow …` found on PATH: put this venv first.
    bin_dir = str(Path(sys.executable).parent)
    if bin_dir not in env.get("PATH", "").split(os.pathsep):
        env["PATH"] = bin_dir + os.pathsep + env.get("PATH", "")
    return env


def airflow_executable() -> str:
    candidate = Path(sys.executable).with_name("airflow")
    return str(candidate) if candidate.exists() else "airflow"


#: What the first call sets up; a home set up by an older version (another text) is set up again.
_SETUP = "migrate+reserialize+pool"


def ensure_metadata_db(env: dict[str, str]) -> None:
    """Create Airflow's metadata DB on first use (about 5 s), quietly, store the DAGs in it at once
    (otherwise `blc airflow dags list` and the UI show nothing until the DAG processor has run), and create
    the pool of database loads (a task in a pool that does not exist is never scheduled)."""
    from blc.assets import DB_LOAD_POOL

    home = Path(env["AIRFLOW_HOME"])
    home.mkdir(parents=True, exist_ok=True)
    marker = home / ".blc-db-migrated"
    done = marker.exists() and marker.read_text() == _SETUP
    if done and ((home / "airflow.db").exists() or "AIRFLOW__DATABASE__SQL_ALCHEMY_CONN" in env):
        return
    slots = env.get("BLC_DB_LOAD_SLOTS") or "4"
    for command in (
        ["db", "migrate"],
        ["dags", "reserialize"],
        ["pools", "set", DB_LOAD_POOL, slots, "blc: concurrent loads into the database (BLC_DB_LOAD_SLOTS)"],
    ):
        subprocess.run(
            [airflow_executable(), *command],
            env=env,
            check=True,
            stdout=subprocess.DEVNULL,
            stderr=subprocess.PIPE,
        )
    marker.write_text(_SETUP)


def run_airflow(args: list[str], settings: Settings | None = None) -> int:
    env = airflow_environment(settings)
    if not args or args[0] not in ("version", "config", "info", "cheat-sheet"):
        ensure_metadata_db(env)
    return subprocess.call([airflow_executable(), *args], env=env)


def rest(port: int, method: str, path: str, token: str | None = None, body: object = None) -> Any:
    """One call to the REST API of the Airflow listening on 127.0.0.1:`port`, JSON in and out. A 5xx
    answer (with SQLite metadata, while the scheduler holds its write lock) is tried again, 2 s apart, up
    to ten times; other HTTP errors are raised (urllib.error.HTTPError)."""
    import json
    import time
    import urllib.error
    import urllib.request

    request = urllib.request.Request(
        f"http://127.0.0.1:{port}{path}",
        method=method,
        data=None if body is None else json.dumps(body).encode(),
        headers={
            "Content-Type": "application/json",
            **({"Authorization": f"Bearer {token}"} if token else {}),
        },
    )
    for attempt in range(10):
        try:
            with urllib.request.urlopen(request, timeout=20) as response:
                return json.loads(response.read())
        except urllib.error.HTTPError as exc:
            if exc.code < 500 or attempt == 9:
                raise
            time.sleep(2)


def admin_token(port: int, airflow_home: Path) -> str:
    """A bearer token for the simple auth manager's `admin`, whose password Airflow writes to
    `<AIRFLOW_HOME>/simple_auth_manager_passwords.json.generated` on its first start."""
    import json

    passwords = json.loads((airflow_home / "simple_auth_manager_passwords.json.generated").read_text())
    answer = rest(port, "POST", "/auth/token", body={"username": "admin", "password": passwords["admin"]})
    return str(answer["access_token"])


def free_port() -> int:
    """A local TCP port nothing listens on now (the kernel's pick), for an Airflow API server of its own."""
    import socket

    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
