"""Errors a connector raises. They name the file, the place and the rule broken."""

from __future__ import annotations


class ConnectorError(Exception):
    """Base class for problems with an input file (never for programming errors)."""

    def __init__(self, file_label: str, message: str) -> None:
        super().__init__(f"{file_label}: {message}")
        self.file_label = file_label
        self.detail = message


class UnsupportedFormat(ConnectorError):
    """No connector recognises the file."""


class CorruptFile(ConnectorError):
    """The file looks like a known format but its content is broken (truncated, wrong field count, binary)."""

    def __init__(self, file_label: str, message: str, *, line: int | None = None) -> None:
        super().__init__(file_label, f"line {line}: {message}" if line is not None else message)
        self.line = line
