"""Process tuning for ingest: deferred imports still deliver whole modules; the heap knobs are glibc's."""

from __future__ import annotations

import subprocess
import sys
import textwrap


def _run(code: str) -> str:
    done = subprocess.run(
        [sys.executable, "-c", textwrap.dedent(code)], check=True, capture_output=True, text=True, timeout=120
    )
    return done.stdout.strip()


def test_deferred_module_loads_whole_on_first_use() -> None:
    out = _run(
        """
        import sys
        from blc import tuning
        tuning.defer_unused_imports()
        import scipy.stats
        before = type(sys.modules["scipy.stats"]).__name__
        value = scipy.stats.norm.cdf(0.0)  # first attribute access runs the module
        print(before, type(sys.modules["scipy.stats"]).__name__, value)
        """
    )

    assert out == "_LazyModule module 0.5"


def test_great_expectations_validates_with_its_heavy_imports_deferred() -> None:
    out = _run(
        """
        import sys
        from pathlib import Path
        import pandas as pd
        from blc import validation
        frame = pd.DataFrame({"test_time_second": [0.0, 1.0, 2.0], "voltage_volt": [3.3, 3.4, 12.0],
                              "current_ampere": [1.0, 1.0, 1.0], "cycle_index": [1, 1, 1]})
        report = validation.validate_frame(frame, "canonical_timeseries", expectations_dir=Path("expectations"),
                                           first_data_line=2)
        print(report.reason("cell.csv"))
        print("altair" in sys.modules, type(sys.modules.get("altair")).__name__)
        """
    )

    reason, altair = out.splitlines()
    assert (
        reason
        == "cell.csv: voltage_volt 12.0 V above 10 V × 1 in series (default cell window, from metadata: none),"
        " first at line 4 — 1 row outside -10 to 10 V"
    )
    assert altair in ("True _LazyModule", "False NoneType")


def test_heap_knobs_apply_on_glibc() -> None:
    out = _run(
        """
        from blc import tuning
        import pyarrow as pa
        print(tuning.keep_heap_flat(), pa.default_memory_pool().backend_name)
        tuning.trim_heap()
        """
    )

    assert out == "True system"
