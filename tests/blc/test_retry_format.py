"""A quarantined content asked for again with another `--format` is a new attempt; asked for again with the
format it was refused under, it is not read again."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
import sqlalchemy as sa

from blc import cli, pipeline

pytestmark = pytest.mark.integration

EXAMPLE = Path(__file__).resolve().parents[1] / "data" / "arbin" / "arbin_example.csv"


def test_another_format_is_a_new_attempt(engine, blc_env: Path, capsys: pytest.CaptureFixture[str]) -> None:  # type: ignore[no-untyped-def]
    path = blc_env / "run.csv"
    shutil.copy(EXAMPLE, path)

    def attempts() -> int:
        with engine.connect() as conn:
            return int(conn.execute(sa.text("select attempts from blc.source_file")).scalar_one())

    first, _ = pipeline.ingest(path.as_uri(), format_name="maccor_text")
    again, _ = pipeline.ingest(path.as_uri(), format_name="maccor_text")
    attempts_after_the_same_format = attempts()
    code = cli.main(["ingest", str(path), "--format", "arbin_csv"])

    assert first.status == "quarantined" and "Maccor" in (first.reason or "")
    assert again.status == "quarantined" and again.reason == first.reason
    assert attempts_after_the_same_format == 1  # the same format again: answered from the ledger, not read
    assert code == 0 and attempts() == 2
    out = capsys.readouterr()
    assert "2142 rows" in out.out + out.err  # the Arbin export's own row count (wc -l minus its header)
    loaded, _ = pipeline.ingest(path.as_uri())
    assert loaded.status == "skipped" and loaded.rows == 0
