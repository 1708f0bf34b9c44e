"""Binary COPY encoding and decoding against a real Postgres: what goes in comes back, bit for bit."""

from __future__ import annotations

import io
import math

import numpy as np
import pandas as pd
import pytest
import sqlalchemy as sa

from blc import db, pgcopy

pytestmark = pytest.mark.integration

TYPES = {
    "label": "text",
    "n": "bigint",
    "k": "integer",
    "x": "double precision",
    "flag": "boolean",
    "gap": "double precision",
}


def _make_table(conn) -> None:  # type: ignore[no-untyped-def]
    conn.execute(
        sa.text(
            "create temp table copy_probe (label text, n bigint, k integer, x double precision,"
            " flag boolean, gap double precision) on commit drop"
        )
    )


def test_binary_payload_round_trips_through_postgres(engine) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame(
        {
            "n": pd.array([1, 2, 3_000_000_000], dtype="Int64"),
            "k": np.array([7, -1, 0], dtype=np.int64),
            "x": [0.1, -2.5e-300, 1 / 3],
            "flag": [True, False, True],
            "gap": [np.nan, np.nan, np.nan],  # entirely NULL: still one row layout
        }
    )
    columns = ["label", "n", "k", "x", "flag", "gap"]

    payload = pgcopy.encode_binary(frame, columns, TYPES, constants={"label": "cell-α"})
    assert payload is not None
    with engine.begin() as conn:
        _make_table(conn)
        rows = db.copy_frames(conn, "copy_probe", [frame], columns, constants={"label": "cell-α"})
        back = conn.execute(sa.text("select * from copy_probe order by n")).all()

    assert rows == 3
    assert [tuple(r) for r in back] == [
        ("cell-α", 1, 7, 0.1, True, None),
        ("cell-α", 2, -1, -2.5e-300, False, None),
        ("cell-α", 3_000_000_000, 0, 1 / 3, True, None),
    ]


def test_a_partly_null_column_falls_back_to_csv_and_keeps_its_nulls(engine) -> None:  # type: ignore[no-untyped-def]
    frame = pd.DataFrame({"n": [1, 2], "x": [1.5, np.nan]})

    assert pgcopy.encode_binary(frame, ["n", "x"], TYPES) is None
    with engine.begin() as conn:
        _make_table(conn)
        db.copy_frames(conn, "copy_probe", [frame], ["n", "x"])
        back = conn.execute(sa.text("select n, x from copy_probe order by n")).all()

    assert [tuple(r) for r in back] == [(1, 1.5), (2, None)]


def test_binary_copy_out_decodes_to_float64_with_nan_for_null(engine) -> None:  # type: ignore[no-untyped-def]
    with engine.begin() as conn:
        _make_table(conn)
        conn.execute(sa.text("insert into copy_probe (n, x) values (1, 0.1), (2, null), (3, -7.25)"))
        frame = db.copy_query_float64(
            conn, "select n::float8 as n, coalesce(x, 'NaN') as x from copy_probe order by n", ["n", "x"]
        )

    assert frame["n"].tolist() == [1.0, 2.0, 3.0]
    assert frame["x"].iloc[0] == 0.1 and np.isnan(frame["x"].iloc[1]) and frame["x"].iloc[2] == -7.25


def test_rows_built_field_by_field_round_trip_float8_arrays_through_postgres(engine) -> None:  # type: ignore[no-untyped-def]
    arrays: dict[int, list[float]] = {
        1: [0.1, -2.5e-300, 1 / 3, 5e-324, -0.0, math.inf, -math.inf],
        2: [1.5, math.nan, 2.5],
        3: [],
    }
    out = pgcopy.RowWriter(io.BytesIO())
    out.write(
        pgcopy.row(
            pgcopy.int8_field(3_000_000_000 + n),
            pgcopy.int4_field(-n),
            pgcopy.text_field("cell-α"),
            pgcopy.float8_array_field(np.array(values)),
        )
        for n, values in arrays.items()
    )

    with engine.begin() as conn:
        conn.execute(
            sa.text(
                "create temp table array_probe (n bigint, k integer, label text, points double precision[])"
                " on commit drop"
            )
        )
        cursor = conn.connection.dbapi_connection.cursor()
        cursor.copy_expert("copy array_probe from stdin with (format binary)", out.finish())
        back = conn.execute(
            sa.text(
                "select n, k, label, points, cardinality(points) as size, array_lower(points, 1) as lower,"
                " points[2] = 'NaN' as second_is_nan from array_probe order by n"
            )
        ).all()

    assert out.rows == 3
    assert [(r.n, r.k, r.label, r.size, r.lower) for r in back] == [
        (3_000_000_001, -1, "cell-α", 7, 1),
        (3_000_000_002, -2, "cell-α", 3, 1),
        (3_000_000_003, -3, "cell-α", 0, None),  # an empty array ('{}'), not NULL
    ]
    for r, values in zip(back, arrays.values(), strict=True):  # bit for bit: -0.0, the subnormal, NaN
        assert np.array(r.points, dtype=np.float64).tobytes() == np.array(values, dtype=np.float64).tobytes()
    assert back[1].second_is_nan  # NaN is a value, not a NULL element


def test_payload_reads_in_pieces_give_the_joined_bytes() -> None:
    payload = pgcopy.Payload(b"abc", memoryview(b"defgh"), b"ij")

    pieces = [payload.read(4) for _ in range(4)]

    assert pieces == [b"abcd", b"efgh", b"ij", b""]
    assert payload.size == 10


def test_decoding_rejects_rows_that_are_not_all_float8() -> None:
    with pytest.raises(ValueError, match="PGCOPY signature"):
        pgcopy.decode_binary_float64(b"x" * 40, ["a"])
