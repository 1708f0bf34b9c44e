"""Failpoints: named places in the ingest where a test can make the real process die, stall or fail.

Crash recovery can only be trusted when it is exercised against real crashes (``kill -9`` of the real process
at a known point, the database stopped while a COPY is in flight), not against mocks. Each point is a no-op
unless ``BLC_FAILPOINTS`` names it, e.g. ``BLC_FAILPOINTS="loaded=kill"`` or ``"mid_copy=pause"``:

- ``kill``: SIGKILL this process (what ``kill -9`` or the OOM killer does);
- ``raise``: raise ``FailpointError`` (an unexpected error at that point);
- ``sleep:S``: stall S seconds (e.g. to hold a lock while a second process starts);
- ``pause``: write ``<name>.reached`` into ``BLC_FAILPOINT_DIR`` and wait (up to 120 s) until ``<name>.go``
  appears there, so a test can act (stop the database) at exactly that moment.

The points: ``registered`` (the ledger says ``ingesting``), ``mid_copy`` (the first chunk is on its way into
the COPY), ``loaded`` (the load committed, statistics not computed yet), ``mid_process`` (the cell's
processing transaction is open).
"""

from __future__ import annotations

import os
import signal
import time
from pathlib import Path

POINTS = ("registered", "mid_copy", "loaded", "mid_process")
PAUSE_LIMIT_SECONDS = 120.0


class FailpointError(RuntimeError):
    """Raised at a failpoint set to ``raise``."""


def reach(name: str) -> None:
    """Act as ``BLC_FAILPOINTS`` says for the point `name` (nothing when unset: one dict lookup)."""
    spec = os.environ.get("BLC_FAILPOINTS")
    if not spec:
        return
    actions = dict(part.split("=", 1) for part in spec.split(",") if "=" in part)
    action = actions.get(name)
    if action is None:
        return
    if action == "kill":
        os.kill(os.getpid(), signal.SIGKILL)
    elif action == "raise":
        raise FailpointError(f"failpoint {name}")
    elif action.startswith("sleep:"):
        time.sleep(float(action.split(":", 1)[1]))
    elif action == "pause":
        folder = Path(os.environ.get("BLC_FAILPOINT_DIR") or ".")
        (folder / f"{name}.reached").touch()
        deadline = time.monotonic() + PAUSE_LIMIT_SECONDS
        while not (folder / f"{name}.go").exists() and time.monotonic() < deadline:
            time.sleep(0.05)
    else:
        raise ValueError(f"BLC_FAILPOINTS: unknown action {action!r} for {name}")
