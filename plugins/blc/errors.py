"""Domain exceptions of the platform.

Input problems (a file we cannot read, or one that fails its suite) are caught at the pipeline edge and
quarantine the file; anything else is a programming or infrastructure error and fails loudly.
"""

from __future__ import annotations

from connectors.errors import ConnectorError, CorruptFile, UnsupportedFormat

__all__ = [
    "BlcError",
    "ConfigurationError",
    "ConnectorError",
    "CorruptFile",
    "QuarantineError",
    "UnsupportedFormat",
]


class BlcError(Exception):
    """Base class of the platform's own errors."""


class ConfigurationError(BlcError):
    """A setting is missing or wrong."""


# Errors that mean "this file is bad", as opposed to "the platform is broken".
QuarantineError = (ConnectorError,)
