"""The connector base classes: what every format inherits (`read` from `stream`, or `stream` from a whole-file
`read`), and the registry's connectors all built on them."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from pathlib import Path

import pandas as pd
import pytest

from connectors import registry
from connectors.base import (
    DEFAULT_CHUNK_ROWS,
    Connector,
    FileHead,
    ReadResult,
    StreamedRead,
    WholeFileConnector,
)

FRAME = pd.DataFrame(
    {
        "test_time_second": [0.0, 10.0, 20.0, 30.0, 40.0],
        "voltage_volt": [3.6, 3.7, 3.8, 3.7, 3.6],
        "current_ampere": [1.0, 1.0, 0.0, -1.0, -1.0],
    }
)


class TwoChunks(Connector):
    """Streams FRAME as rows 0–2 and 3–4, whatever the file holds."""

    name = "two_chunks"
    parser_version = "7"

    def sniff(self, head: FileHead) -> bool:
        return head.first_line == "two chunks"

    def stream(
        self, path: Path, *, timezone: str = "UTC", chunk_rows: int = DEFAULT_CHUNK_ROWS
    ) -> StreamedRead:
        def chunks(columns: Sequence[str] | None) -> Iterator[pd.DataFrame]:
            yield FRAME.iloc[:3].reset_index(drop=True)
            yield FRAME.iloc[3:].reset_index(drop=True)

        return StreamedRead(
            format=self.name,
            parser_version=self.parser_version,
            columns=tuple(FRAME.columns),
            chunks=chunks,
            first_data_line=2,
            metadata={"timezone": timezone},
        )


class WholeFrame(WholeFileConnector):
    """Parses FRAME whole, as a binary format's third-party reader would."""

    name = "whole_frame"
    parser_version = "3"

    def sniff(self, head: FileHead) -> bool:
        return head.raw.startswith(b"WHOLE")

    def read(self, path: Path, *, timezone: str = "UTC") -> ReadResult:
        return ReadResult(
            frame=FRAME, format=self.name, parser_version=self.parser_version, metadata={"timezone": timezone}
        )


def test_read_is_the_whole_stream_in_one_frame(tmp_path: Path) -> None:
    result = TwoChunks().read(tmp_path / "any.txt", timezone="Europe/Oslo")

    pd.testing.assert_frame_equal(result.frame, FRAME)
    assert (result.format, result.parser_version, result.first_data_line) == ("two_chunks", "7", 2)
    assert result.metadata == {"timezone": "Europe/Oslo"}


def test_a_whole_file_format_streams_its_parsed_frame_in_chunks(tmp_path: Path) -> None:
    streamed = WholeFrame().stream(tmp_path / "any.bin", timezone="Europe/Oslo", chunk_rows=2)

    chunks = list(streamed.chunks(None))
    assert [len(c) for c in chunks] == [2, 2, 1]
    pd.testing.assert_frame_equal(pd.concat(chunks, ignore_index=True), FRAME)
    assert list(next(iter(streamed.chunks(["current_ampere"]))).columns) == ["current_ampere"]
    assert (streamed.format, streamed.parser_version) == ("whole_frame", "3")
    assert streamed.metadata == {"timezone": "Europe/Oslo"}


def test_a_connector_without_sniff_or_stream_cannot_be_made() -> None:
    class NoStream(Connector):
        name = "no_stream"
        parser_version = "1"

        def sniff(self, head: FileHead) -> bool:
            return False

    with pytest.raises(TypeError, match="stream"):
        NoStream()  # type: ignore[abstract]


def test_every_registered_format_is_a_connector_with_its_own_name() -> None:
    assert all(isinstance(connector, Connector) for connector in registry.CONNECTORS)
    assert len(set(registry.names())) == len(registry.CONNECTORS)
    assert all(connector.parser_version for connector in registry.CONNECTORS)
