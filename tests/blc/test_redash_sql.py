"""Every Redash query as code runs on a real BLC database, with its parameters filled the way Redash fills
them, and returns the columns its widgets plot (the fake Redash server does not run SQL)."""

from __future__ import annotations

import re
from pathlib import Path

import pandas as pd
import pytest
import sqlalchemy as sa

from blc import pipeline
from blc.redash_specs import load_dashboard_specs, load_query_specs

ROOT = Path(__file__).resolve().parents[2]
DATA = ROOT / "tests" / "data"
PARAMETERS = {"cell_id": "'maccor_001','arbin_example'", "cycle_1": "2", "cycle_2": "3", "cycle_3": "4"}

pytestmark = pytest.mark.integration


def _render(sql: str) -> str:
    return re.sub(r"\{\{\s*(\w+)\s*\}\}", lambda m: PARAMETERS[m.group(1)], sql)


def test_every_query_runs_and_returns_its_widgets_columns(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    pipeline.ingest((DATA / "maccor" / "maccor_001.txt").as_uri())
    pipeline.ingest((DATA / "arbin" / "arbin_example.csv").as_uri())
    pipeline.ingest((DATA / "bad" / "nan_voltage.csv").as_uri())  # quarantined: one validation finding
    specs = load_query_specs(ROOT / "redash" / "queries")
    [dashboard] = load_dashboard_specs(ROOT / "redash" / "dashboards")

    results: dict[str, pd.DataFrame] = {}
    with engine.connect() as conn:
        for spec in specs:
            results[spec.slug] = pd.read_sql(sa.text(_render(spec.sql).replace(":", r"\:")), conn)

    for slug, frame in results.items():
        assert len(frame) > 0, slug
    for widget in dashboard.widgets:
        viz = widget.visualization
        for column in filter(None, [viz.get("x"), viz.get("group_by"), *viz.get("y", [])]):
            assert column in results[str(widget.query)].columns, (widget.title, column)
    curves = results["voltage_curves"]
    assert set(curves["cycle_index"]) == {2, 3, 4}
    assert set(curves["direction"]) == {"charge", "discharge"}
    fleet = results["cell_list"].set_index("cell_id")
    assert fleet.loc["maccor_001", "cycles"] == 5
    findings = results["validation_findings"]
    assert findings[["file", "severity", "rule"]].values.tolist() == [
        ["nan_voltage.csv", "error", "voltage_volt must not be null"]
    ]
    assert findings["first_line"].tolist() == [12]
