"""`make demo` end to end: real Airflow over the bundled samples plus the synthetic fading cell; the second
run ingests nothing and prints the same summary."""

from __future__ import annotations

import os
import re
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = [pytest.mark.integration, pytest.mark.airflow]


def _demo(env: dict[str, str]) -> str:
    done = subprocess.run(
        [str(Path(sys.executable).with_name("blc")), "demo"],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    return done.stdout


def test_demo_ingests_samples_and_a_fading_cell_then_nothing_new(blc_env: Path, tmp_path: Path) -> None:
    env = {**os.environ, "BLC_HOME": str(tmp_path / "home")}
    env.pop("AIRFLOW_HOME", None)  # the demo keeps its own under BLC_HOME
    env = {k: v for k, v in env.items() if not k.startswith("AIRFLOW__")}

    first = _demo(env)
    second = _demo(env)

    assert "6 sample file(s) copied" in first and "synthetic fading cell written" in first
    assert "0 sample file(s) copied" in second and "already there" in second
    assert first.count("processed") == 6  # five real files and the synthetic cell
    fading = re.search(
        r"synthetic_lfp_1C_cell\s+(\d+)\s+([\d.]+)\s+([\d.]+)\s+([\d.]+)%\s+~(\d+)\s+([\d.]+)", first
    )
    assert fading is not None, first
    cycles, first_ah, last_ah, retention, projected, efc = fading.groups()
    assert int(cycles) > 150
    assert float(first_ah) == pytest.approx(1.1, rel=0.05) and float(last_ah) < float(first_ah)
    assert 90.0 < float(retention) < 99.0
    assert int(projected) > int(cycles)  # 80 % not reached: a projection, marked with ~
    assert float(efc) == pytest.approx(int(cycles) * 0.97, rel=0.05)  # ~1 reference capacity per cycle
    assert first.split("cells:")[1] == second.split("cells:")[1]  # same summary, nothing re-ingested
