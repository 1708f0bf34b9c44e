"""Neware's binary files, `.nda` and `.ndax`, read whole by the NewareNDA package (then chunked)."""

from __future__ import annotations

import importlib
import re
import struct
import zipfile
from abc import abstractmethod
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from connectors.archives import check_archive
from connectors.base import (
    FileHead,
    ReadResult,
    WholeFileConnector,
    to_canonical,
)
from connectors.errors import ConnectorError, CorruptFile
from connectors.neware_rules import NAME_NDA, NAME_NDAX, PARSER_VERSION, signed_current

_NDAX_MEMBERS = (b".ndc",)
_NDAX_XML = (b"TestInfo.xml", b"VersionInfo.xml")
_NEWARENDA_HINT = "reading Neware .nda/.ndax files needs the NewareNDA package (pip install NewareNDA)"


def _newarenda(path: Path, module: str) -> Any:
    try:
        return importlib.import_module(f"NewareNDA.{module}")
    except ImportError as exc:
        raise ConnectorError(path.name, _NEWARENDA_HINT) from exc


def _decimal(values: pd.Series) -> np.ndarray:
    """float32 values back to the decimals the instrument wrote (41.599998 → 41.6), as float64."""
    array = np.asarray(values, dtype=np.float32)
    return array.astype(str).astype(np.float64)


def _test_time(step: np.ndarray, step_time: np.ndarray) -> np.ndarray:
    """Running sum of the finished steps' last step times, plus the step time."""
    n = step_time.size
    if n == 0:
        return step_time
    new_step = np.ones(n, dtype=bool)
    new_step[1:] = (step[1:] != step[:-1]) | (step_time[1:] < step_time[:-1])
    starts = np.flatnonzero(new_step)
    ends = np.append(starts[1:] - 1, n - 1)
    offsets = np.concatenate(([0.0], np.cumsum(step_time[ends])[:-1]))
    owner = np.cumsum(new_step) - 1
    return np.round(offsets[owner] + step_time, 6)


def _unix_seconds(stamps: pd.Series, timezone: str) -> np.ndarray:
    parsed = pd.to_datetime(stamps)
    if parsed.dt.tz is None:
        parsed = parsed.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward")
    since_epoch = parsed.dt.tz_convert("UTC") - pd.Timestamp(0, tz="UTC")
    return since_epoch.dt.total_seconds().to_numpy(dtype=np.float64)


#: NewareNDA's per-step counters (mAh, mWh) → BDF step scope.
_NDA_STEP_COUNTERS = {
    "Charge_Capacity(mAh)": "step_charging_capacity_ah",
    "Discharge_Capacity(mAh)": "step_discharging_capacity_ah",
    "Charge_Energy(mWh)": "step_charging_energy_wh",
    "Discharge_Energy(mWh)": "step_discharging_energy_wh",
}


def _binary_frame(raw: pd.DataFrame, timezone: str) -> tuple[pd.DataFrame, list[str]]:
    """NewareNDA's frame → canonical frame and the vendor columns left unmapped."""
    status = raw["Status"].astype("string")
    step_time = _decimal(raw["Time"])
    step = raw["Step"].to_numpy(dtype=np.int64)
    cycle = raw["Cycle"].to_numpy(dtype=np.int64)
    frame = pd.DataFrame(
        {
            "record_index": raw["Index"].to_numpy(dtype=np.int64),
            "test_time_second": _test_time(step, step_time),
            "unix_time_second": _unix_seconds(raw["Timestamp"], timezone),
            # NewareNDA writes 0 where the file holds no counter (its own counters start at 1).
            "cycle_count": pd.arrays.IntegerArray(cycle, mask=cycle == 0),
            "step_count": step,
            "step_id": raw["Step_Index"].to_numpy(dtype=np.int64),
            "step_time_second": step_time,
            "current_ampere": signed_current(_decimal(raw["Current(mA)"]) * 1e-3, status),
            "voltage_volt": _decimal(raw["Voltage"]),
        }
    )
    for vendor, canonical in _NDA_STEP_COUNTERS.items():
        if vendor in raw:
            frame[canonical] = _decimal(raw[vendor]) * 1e-3  # mAh, mWh
    temperature = next((c for c in raw.columns if re.fullmatch(r"T\d+", str(c))), None)
    if temperature is not None:
        frame["temperature_t1_celsius"] = _decimal(raw[temperature])
    used = {"Index", "Cycle", "Step", "Step_Index", "Status", "Time", "Voltage", "Current(mA)", "Timestamp"}
    used |= _NDA_STEP_COUNTERS.keys()
    if temperature is not None:
        used.add(temperature)
    unmapped = [str(c) for c in raw.columns if c not in used]
    return to_canonical(frame), unmapped


def _clean_metadata(values: dict[str, Any]) -> dict[str, str | float]:
    out: dict[str, str | float] = {}
    for key, value in values.items():
        if isinstance(value, bool) or value is None or value == "":
            continue
        out[key] = float(value) if isinstance(value, int | float) else str(value)
    return out


class _NewareBinary(WholeFileConnector):
    parser_version = PARSER_VERSION
    _module: str
    _reader: str

    def read(self, path: Path, *, timezone: str = "UTC") -> ReadResult:
        if zipfile.is_zipfile(path):  # .ndax
            check_archive(path)
        module = _newarenda(path, self._module)
        try:
            raw = getattr(module, self._reader)(str(path), software_cycle_number=False)
        except NotImplementedError as exc:
            raise ConnectorError(path.name, f"NewareNDA cannot read this file: {exc}") from exc
        except (
            ValueError,
            EOFError,
            KeyError,
            IndexError,
            OSError,
            struct.error,
            zipfile.BadZipFile,
            zipfile.LargeZipFile,
        ) as exc:
            raise CorruptFile(path.name, f"NewareNDA could not read it: {type(exc).__name__}: {exc}") from exc
        if raw.empty:
            raise CorruptFile(path.name, "no data records")
        frame, unmapped = _binary_frame(raw, timezone)
        return ReadResult(
            frame=frame,
            format=self.name,
            parser_version=self.parser_version,
            first_data_line=None,
            metadata=self._metadata(path),
            unmapped_columns=tuple(unmapped),
        )

    @abstractmethod
    def _metadata(self, path: Path) -> dict[str, str | float]:
        """What the file says about itself (NewareNDA's metadata reader, per format)."""


class NewareNda(_NewareBinary):
    name = NAME_NDA
    _module = "NewareNDA"
    _reader = "read_nda"

    def sniff(self, head: FileHead) -> bool:
        return head.raw.startswith(b"NEWARE")

    def _metadata(self, path: Path) -> dict[str, str | float]:
        module = _newarenda(path, self._module)
        try:
            found = module.read_nda_metadata(path)
        except Exception:  # metadata is a bonus: the data were read
            return {}
        return _clean_metadata(found)


class NewareNdax(_NewareBinary):
    name = NAME_NDAX
    _module = "NewareNDAx"
    _reader = "read_ndax"

    def sniff(self, head: FileHead) -> bool:
        raw = head.raw
        if not raw.startswith(b"PK\x03\x04"):
            return False
        return any(m in raw for m in _NDAX_MEMBERS) or all(m in raw for m in _NDAX_XML)

    def _metadata(self, path: Path) -> dict[str, str | float]:
        module = _newarenda(path, self._module)
        try:
            found = module.read_ndax_metadata(path)
        except Exception:  # metadata is a bonus: the data were read
            return {}
        test = (found.get("TestInfo") or {}).get("TestInfo") or {}
        version = (found.get("VersionInfo") or {}).get("ZwjVersion") or {}
        return _clean_metadata(
            {
                "start_time": test.get("StartTime"),
                "end_time": test.get("EndTime"),
                "procedure": test.get("StepName"),
                "barcode": test.get("SN"),
                "channel": test.get("ChlID"),
                "device": test.get("DevID"),
                "unit": test.get("UnitID"),
                "remarks": test.get("Remark"),
                "server_version": version.get("SvrVer"),
                "client_version": version.get("CurrClientVer"),
            }
        )
