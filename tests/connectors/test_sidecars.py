"""Sidecar metadata: <file>.meta.yaml|json, cells.csv manifests, Arbin _Metadata.csv; precedence and errors;
and the pipeline taking the cell id and nominal capacity from them."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from connectors.sidecars import SidecarError, metadata_beside

DATA = Path(__file__).resolve().parents[1] / "data"
EXAMPLE = DATA / "arbin" / "arbin_example.csv"
CH33 = DATA / "arbin" / "2017-05-09_test-TC-contact_CH33.csv"


def test_arbin_metadata_csv_gives_barcode_channel_and_schedule(tmp_path: Path) -> None:
    found = metadata_beside(CH33)

    assert found["barcode"] == "EL150800460659"
    assert found["channel"] == "32"
    assert found["schedule"] == "20170509-6C_1C_36CV.sdu"
    assert "cell_id" not in found  # a barcode is never taken as the cell id


def test_meta_yaml_beats_manifest_beats_vendor_sidecar(tmp_path: Path) -> None:
    data = tmp_path / "lab" / "run1"
    data.mkdir(parents=True)
    path = data / "2017-05-09_test-TC-contact_CH33.csv"
    shutil.copy(CH33, path)
    shutil.copy(CH33.with_name("2017-05-09_test-TC-contact_CH33_Metadata.csv"), data)
    (tmp_path / "lab" / "cells.csv").write_text(
        "file,cell_id,nominal_capacity_mah,chemistry,barcode\n"
        "other.csv,NOPE,1,LFP,x\n"
        "2017-05-09_*_CH33.csv,LFP-033,1100,LFP/graphite,FROM-MANIFEST\n"
    )
    assert metadata_beside(path) == {
        "cell_id": "LFP-033",
        "nominal_capacity_ah": pytest.approx(1.1),
        "chemistry": "LFP/graphite",
        "barcode": "FROM-MANIFEST",
        "channel": "32",
        "schedule": "20170509-6C_1C_36CV.sdu",
        "arbin_test_id": "144",
        "first_start_unix_second": "1494377253",
    }

    path.with_name(path.name + ".meta.yaml").write_text("cell_id: LFP-033b\nnominal_capacity_ah: 1.05\n")
    found = metadata_beside(path)
    assert (found["cell_id"], found["nominal_capacity_ah"], found["chemistry"]) == (
        "LFP-033b",
        1.05,
        "LFP/graphite",
    )


def test_broken_sidecars_name_the_file_and_rule(tmp_path: Path) -> None:
    path = tmp_path / "cell.csv"
    path.write_text("x\n")
    (tmp_path / "cell.meta.json").write_text('{"nominal_capacity_ah": "big"}')
    with pytest.raises(SidecarError, match=r"cell.meta.json: nominal_capacity_ah 'big' is not a number"):
        metadata_beside(path)

    (tmp_path / "cell.meta.json").write_text("[1, 2]")
    with pytest.raises(SidecarError, match=r"cell.meta.json: must hold a mapping"):
        metadata_beside(path)

    (tmp_path / "cell.meta.json").unlink()
    (tmp_path / "cells.csv").write_text("name,cell_id\ncell.csv,A\n")
    with pytest.raises(SidecarError, match=r"cells.csv: needs a 'file' column"):
        metadata_beside(path)


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        pytest.param("half_cell: yes\n", True, id="stated"),
        pytest.param("half_cell: false\ncounter_electrode: Li\n", False, id="stated-wins"),
        pytest.param("counter_electrode: Li metal\n", True, id="counter-electrode"),
        pytest.param("anode: lithium\ncathode: NMC811\n", True, id="li-metal-anode"),
        pytest.param("anode: graphite\ncathode: NMC811\n", None, id="full-cell-not-stated"),
    ],
)
def test_half_cells_are_flagged(tmp_path: Path, meta: str, expected: bool | None) -> None:
    path = tmp_path / "cell.csv"
    path.write_text("x\n")
    (tmp_path / "cell.meta.yaml").write_text(meta)

    assert metadata_beside(path).get("half_cell") is expected


def test_a_half_cell_flag_that_is_not_a_boolean_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "cell.csv"
    path.write_text("x\n")
    (tmp_path / "cell.meta.yaml").write_text("half_cell: maybe\n")

    with pytest.raises(SidecarError, match=r"cell.meta.yaml: half_cell 'maybe' is not true or false"):
        metadata_beside(path)


@pytest.mark.integration
def test_pipeline_takes_cell_id_and_nominal_capacity_from_the_sidecar(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    from blc import pipeline

    path = blc_env / "run_0042.csv"
    shutil.copy(EXAMPLE, path)
    (blc_env / "run_0042.csv.meta.yaml").write_text(
        "cell_id: NMC-B7\nnominal_capacity_ah: 1.1\nchemistry: NMC811/graphite\nformation_cycles: 0\n"
    )

    outcome, _ = pipeline.ingest(path.as_uri())

    assert outcome.status == "loaded"
    with engine.connect() as conn:
        cell = conn.execute(sa.text("select cell_id, nominal_capacity_ah, chemistry from blc.cell")).one()
        assert conn.execute(sa.text("select distinct cell_id from blc.timeseries")).scalar() == "NMC-B7"
    assert (cell.cell_id, float(cell.nominal_capacity_ah), cell.chemistry) == (
        "NMC-B7",
        1.1,
        "NMC811/graphite",
    )


@pytest.mark.integration
def test_a_half_cell_is_flagged_on_the_cell_and_in_blc_cells(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    from blc import pipeline

    path = blc_env / "coin_7.csv"
    shutil.copy(EXAMPLE, path)
    (blc_env / "coin_7.csv.meta.yaml").write_text("anode: graphite\ncounter_electrode: Li\n")

    pipeline.ingest(path.as_uri())
    overview = pipeline.cell_overview(engine).set_index("cell_id")

    assert bool(overview.loc["coin_7", "half_cell"]) is True
    with engine.connect() as conn:
        assert conn.execute(sa.text("select metadata ->> 'counter_electrode' from blc.cell")).scalar() == "Li"


def _ch33_with_capacity(folder: Path, capacity: str) -> Path:
    """CH33 and its real _Metadata.csv, with Arbin's ``Capacity`` column (the nominal capacity in Ah, as
    MITS Pro's Global_Table names it) added and set to `capacity`."""
    path = folder / CH33.name
    shutil.copy(CH33, path)
    header, row = CH33.with_name(f"{CH33.stem}_Metadata.csv").read_text().splitlines()[:2]
    path.with_name(f"{CH33.stem}_Metadata.csv").write_text(f"{header},Capacity\n{row},{capacity}\n")
    return path


def test_the_real_arbin_metadata_states_no_nominal_capacity() -> None:
    found = metadata_beside(CH33)  # MITS's TestList row: Value and Value2 are 0.0, and undocumented

    assert "nominal_capacity_ah" not in found
    assert not {"value", "value2"} & set(found)


def test_arbin_metadata_capacity_is_the_nominal_capacity(tmp_path: Path) -> None:
    # 0 is what Arbin writes when no nominal capacity was entered: no capacity.
    assert metadata_beside(_ch33_with_capacity(tmp_path, "1.1"))["nominal_capacity_ah"] == 1.1
    assert "nominal_capacity_ah" not in metadata_beside(_ch33_with_capacity(tmp_path, "0"))
    with pytest.raises(SidecarError, match=r"_Metadata.csv: Capacity 'big' is not a number"):
        metadata_beside(_ch33_with_capacity(tmp_path, "big"))


@pytest.mark.parametrize(
    ("meta", "expected"),
    [
        pytest.param("cells_in_series: 12\n", 12, id="number"),
        pytest.param("series: 12S2P\n", 12, id="configuration-alias"),
        pytest.param("cells_in_series: '4s'\n", 4, id="text"),
    ],
)
def test_cells_in_series(tmp_path: Path, meta: str, expected: int) -> None:
    path = tmp_path / "pack.csv"
    path.write_text("x\n")
    (tmp_path / "pack.meta.yaml").write_text(meta)

    found = metadata_beside(path)

    assert found["cells_in_series"] == expected and "series" not in found


def test_a_series_count_that_is_not_a_count_names_the_sidecar(tmp_path: Path) -> None:
    path = tmp_path / "pack.csv"
    path.write_text("x\n")
    (tmp_path / "pack.meta.yaml").write_text("cells_in_series: 0\n")

    with pytest.raises(
        SidecarError, match=r"pack.meta.yaml: cells_in_series 0 is not a whole number of cells"
    ):
        metadata_beside(path)


@pytest.mark.integration
def test_ingest_takes_the_nominal_capacity_from_arbin_metadata(engine, blc_env: Path) -> None:  # type: ignore[no-untyped-def]
    from blc import pipeline

    path = _ch33_with_capacity(blc_env, "1.1")

    outcome, _ = pipeline.ingest(path.as_uri())

    assert outcome.status == "loaded", outcome.reason
    with engine.connect() as conn:
        cell = conn.execute(sa.text("select cell_id, nominal_capacity_ah from blc.cell")).one()
    assert (cell.cell_id, float(cell.nominal_capacity_ah)) == (CH33.stem, 1.1)


@pytest.mark.integration
def test_the_demo_synthetic_cell_gets_its_nominal_capacity(  # type: ignore[no-untyped-def]
    engine, blc_env: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from blc import demo, pipeline, synthetic

    monkeypatch.setattr(demo, "SYNTHETIC_ROWS", 3_000)  # a few cycles are enough
    target = demo.write_synthetic_cell(blc_env, tmp_path / "scratch")
    assert target is not None

    outcome, _ = pipeline.ingest(target.as_uri())

    assert outcome.status == "loaded", outcome.reason
    with engine.connect() as conn:
        nominal = conn.execute(sa.text("select nominal_capacity_ah from blc.cell")).scalar_one()
    assert float(nominal) == synthetic.NOMINAL_CAPACITY_AH == 1.1  # the generator's 1C
