"""Stitching: several files of one cell, ingested in any order, make one continuous test."""

from __future__ import annotations

from pathlib import Path

import pytest
import sqlalchemy as sa

from blc import pipeline

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = DATA / "arbin" / "arbin_example.csv"

pytestmark = pytest.mark.integration


def _split(tmp: Path) -> tuple[Path, Path]:
    """arbin_example.csv cut where its cycle 2 starts, each part with the header and a sidecar naming
    one cell; the second part's Test_Time and DateTime continue the first's (a resumed Arbin test)."""
    lines = EXAMPLE.read_text().splitlines(keepends=True)
    cycle_column = lines[0].split(",").index("Cycle_Index")
    cut = next(i for i, line in enumerate(lines[1:], start=1) if line.split(",")[cycle_column] == "2")
    parts = (tmp / "cellA_part_1.csv", tmp / "cellA_part_2.csv")
    parts[0].write_text("".join(lines[:cut]))
    parts[1].write_text(lines[0] + "".join(lines[cut:]))
    for part in parts:
        part.with_name(part.name + ".meta.yaml").write_text("cell_id: cellA\n")
    return parts


def _stats(engine) -> list[tuple[int, float, float, float]]:  # type: ignore[no-untyped-def]
    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select cycle_index, charge_capacity_ah, discharge_capacity_ah, test_time_start_second"
                " from blc.cycle_stats where cell_id = :cell order by cycle_index"
            ),
            {"cell": "cellA"},
        ).all()
    return [tuple(row) for row in rows]


def test_files_ingested_in_reverse_order_stitch_into_the_whole_test(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    first, second = _split(blc_env)

    pipeline.ingest(second.as_uri())
    alone = _stats(engine)
    pipeline.ingest(first.as_uri())
    stitched = _stats(engine)

    assert [row[0] for row in alone] == [1]  # part 2 alone: its cycle is the cell's first
    assert [row[0] for row in stitched] == [1, 2]  # re-stitched when part 1 arrived
    whole = pipeline.ingest(EXAMPLE.as_uri(), cell_id="whole")[1][0]
    assert whole.cycles == 2
    with engine.connect() as conn:
        expected = conn.execute(
            sa.text(
                "select cycle_index, charge_capacity_ah, discharge_capacity_ah, test_time_start_second"
                " from blc.cycle_stats where cell_id = 'whole' order by cycle_index"
            )
        ).all()
        view = conn.execute(
            sa.text(
                "select min(cycle_index), max(cycle_index), count(*), min(test_time_second),"
                " max(test_time_second) from blc.cell_timeseries where cell_id = 'cellA'"
            )
        ).one()
        order = conn.execute(
            sa.text("select uri, stitch_position, cycle_offset from blc.source_file where cell_id = 'cellA'")
        ).all()
    assert len(stitched) == len(expected)
    for got, want in zip(stitched, expected, strict=True):
        assert got == pytest.approx(tuple(want), rel=1e-9)
    assert tuple(view) == pytest.approx((1, 2, 2142, 0.0, 6308.4823))
    assert sorted((Path(uri).name, position, offset) for uri, position, offset in order) == [
        ("cellA_part_1.csv", 0, 0),
        ("cellA_part_2.csv", 1, 1),
    ]


def test_restarting_test_time_without_clock_continues_after_the_previous_file(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    """No DateTime column, and part 2's Test_Time restarts at 0: it is placed right after part 1's last
    sample, in natural file-name order (run_2 before run_10)."""
    lines = EXAMPLE.read_text().splitlines(keepends=True)
    header = lines[0].rstrip("\n").split(",")
    drop, time_at = header.index("DateTime"), header.index("Test_Time")
    cycle_at = header.index("Cycle_Index")
    cut = next(i for i, line in enumerate(lines[1:], start=1) if line.split(",")[cycle_at] == "2")

    def write(name: str, rows: list[str], shift: float) -> None:
        out = [",".join(c for i, c in enumerate(header) if i != drop)]
        for row in rows:
            cells = row.rstrip("\n").split(",")
            cells[time_at] = repr(float(cells[time_at]) - shift)
            out.append(",".join(c for i, c in enumerate(cells) if i != drop))
        (blc_env / name).write_text("\n".join(out) + "\n")
        (blc_env / f"{name}.meta.yaml").write_text("cell_id: cellB\n")

    restart_at = float(lines[cut].split(",")[time_at])
    write("run_10.csv", lines[cut:], restart_at)  # ingested first, named to sort after run_2
    write("run_2.csv", lines[1:cut], 0.0)
    last_of_first = float(lines[cut - 1].split(",")[time_at])

    pipeline.ingest((blc_env / "run_10.csv").as_uri())
    pipeline.ingest((blc_env / "run_2.csv").as_uri())

    with engine.connect() as conn:
        rows = conn.execute(
            sa.text(
                "select cycle_index, test_time_start_second from blc.cycle_stats"
                " where cell_id = 'cellB' order by cycle_index"
            )
        ).all()
        offset = conn.execute(
            sa.text("select test_time_offset_second from blc.source_file where uri like '%run_10.csv'")
        ).scalar()
    assert [row[0] for row in rows] == [1, 2]
    assert offset == pytest.approx(last_of_first)
    assert rows[1][1] == pytest.approx(last_of_first)  # part 2 starts where part 1 ended


def test_a_cycle_cut_by_a_file_boundary_is_one_cycle(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    """A resumed test: part 2 starts inside cycle 2 (its Cycle_Index goes on at 2, its Test_Time goes on).
    The two parts are one cycle 2 with the statistics of the uncut file."""
    lines = EXAMPLE.read_text().splitlines(keepends=True)
    cut = 1501  # header + 1,500 rows: cycle 2 runs from data row 1,061 to the end
    first, second = blc_env / "cellC_1.csv", blc_env / "cellC_2.csv"
    first.write_text("".join(lines[:cut]))
    second.write_text(lines[0] + "".join(lines[cut:]))
    for part in (first, second):
        part.with_name(part.name + ".meta.yaml").write_text("cell_id: cellC\n")

    pipeline.ingest(second.as_uri())
    pipeline.ingest(first.as_uri())
    pipeline.ingest(EXAMPLE.as_uri(), cell_id="whole")

    columns = (
        "cycle_index, charge_capacity_ah, discharge_capacity_ah, charge_energy_wh, cv_capacity_ah,"
        " test_time_start_second, test_time_end_second, n_points, complete"
    )
    with engine.connect() as conn:
        split = conn.execute(
            sa.text(f"select {columns} from blc.cycle_stats where cell_id = 'cellC' order by cycle_index")
        ).all()
        whole = conn.execute(
            sa.text(f"select {columns} from blc.cycle_stats where cell_id = 'whole' order by cycle_index")
        ).all()
        offsets = (
            conn.execute(
                sa.text(
                    "select cycle_offset from blc.source_file where cell_id = 'cellC' order by stitch_position"
                )
            )
            .scalars()
            .all()
        )
        fade = conn.execute(sa.text("select cycles from blc.cell_summary where cell_id = 'cellC'")).scalar()
    assert offsets == [0, 1]  # part 2's cycle 1 is the cell's cycle 2
    assert [row[0] for row in split] == [1, 2] and fade == 2
    for got, want in zip(split, whole, strict=True):
        assert tuple(got) == pytest.approx(tuple(want), rel=1e-9)


def test_a_split_cycle_without_stored_samples_keeps_one_row(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    lines = EXAMPLE.read_text().splitlines(keepends=True)
    first, second = blc_env / "cellD_1.csv", blc_env / "cellD_2.csv"
    first.write_text("".join(lines[:1501]))
    second.write_text(lines[0] + "".join(lines[1501:]))
    for part in (first, second):
        part.with_name(part.name + ".meta.yaml").write_text("cell_id: cellD\n")
    pipeline.ingest(first.as_uri())
    pipeline.ingest(second.as_uri())
    with engine.begin() as conn:  # samples lost behind the statistics' back
        conn.execute(sa.text("delete from blc.timeseries where cell_id = 'cellD' and cycle_index = 2"))
        conn.execute(
            sa.text(
                "delete from blc.timeseries where cell_id = 'cellD' and cycle_index = 1"
                " and file_id = (select max(file_id) from blc.source_file)"
            )
        )

    outcome = pipeline.process_cell("cellD")

    assert outcome.cycles == 2
