"""Lab-share listing: sidecars ignored, stability by settle window."""

from __future__ import annotations

import os
from pathlib import Path

from connectors import share


def test_lists_data_files_and_ignores_sidecars(tmp_path: Path) -> None:
    for name in (
        "cell_a.csv",
        "cell_a_Metadata.csv",
        "cell_b.csv.part",
        ".hidden.csv",
        "cells.csv",
        "cell_d_cycle_data.csv",
        "p1-summary.csv",
    ):
        (tmp_path / name).write_text("x\n")
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "cell_c.res").write_text("x\n")
    (tmp_path / "empty.csv").write_text("")

    names = [c.name for c in share.list_files([tmp_path])]

    assert names == ["cell_a.csv", "cell_c.res"]


def test_stable_only_after_settle_window(tmp_path: Path) -> None:
    old, fresh = tmp_path / "old.csv", tmp_path / "fresh.csv"
    old.write_text("1\n")
    fresh.write_text("2\n")
    os.utime(old, (1000.0, 1000.0))
    os.utime(fresh, (1095.0, 1095.0))

    stable, settling = share.split_stable(share.list_files([tmp_path]), settle_seconds=30, now=1100.0)

    assert [c.name for c in stable] == ["old.csv"]
    assert [c.name for c in settling] == ["fresh.csv"]
    assert stable[0].uri == old.resolve().as_uri()
