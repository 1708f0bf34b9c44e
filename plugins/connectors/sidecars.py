"""What the files *beside* a cycler export say about it: cell id, nominal capacity, chemistry, timezone….

A lab states what it knows about a cell in one of these, most specific first (a value found earlier wins;
the file's own header and vendor sidecars come last, the file name is the last resort):

1. ``<file>.meta.yaml`` / ``.meta.yml`` / ``.meta.json`` (also ``<stem>.meta.yaml``): keys as in
   `KNOWN_KEYS`, any others kept as cell metadata.
2. ``cells.csv`` in the file's folder (or a parent folder up to `MANIFEST_DEPTH` levels): one row per file
   or per glob pattern, column ``file`` (a name or a pattern such as ``B1_*.csv``) plus any of
   `KNOWN_KEYS`. The first matching row wins.
3. Vendor sidecars: Arbin/BEEP ``<stem>_Metadata.csv`` (``Item_ID`` → ``barcode``, ``Test_ID``,
   ``IV_Ch_ID`` → ``channel``, ``Schedule_File_Name`` → ``schedule``, ``First_Start_DateTime``; a non-zero
   ``Capacity``, Arbin's name for the nominal capacity in Ah, → ``nominal_capacity_ah``; a column named as
   one of `KNOWN_KEYS` is taken as that key). MITS's own export (the TestList row BEEP reads) has no
   nominal capacity: its ``Value``/``Value2`` are undocumented and left alone. Connectors read their own
   in-file headers (Maccor, Novonix…).

``cell_id`` is decided as: ``--cell-id`` on the command line > ``cell_id`` from 1 or 2 > the connector's
own ``cell_id`` (Battery Archive file names, BDF metadata) > the file name without extension. A barcode
from a vendor sidecar or header is kept as metadata, never taken as the cell id: real ones read ``EXP`` or
a free-text description. ``nominal_capacity_ah`` comes
from 1, 2, 3 or the file (Ah; ``nominal_capacity_mah`` is converted); when none gives it, the cell's
reference capacity is its first complete cycles' discharge (docs/design.md §6). ``cells_in_series`` (or
``series``; a whole number, or a configuration such as ``12S`` / ``12S2P``) says the file measures a module
or pack: the voltage window the file is validated against is its chemistry's cell window times that
(`blc.voltage_window`).
"""

from __future__ import annotations

import csv
import fnmatch
import json
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import yaml

from connectors.errors import ConnectorError

#: Keys with a meaning to the platform (others are kept as free cell metadata).
KNOWN_KEYS = (
    "cell_id",
    "project",
    "nominal_capacity_ah",
    "nominal_capacity_mah",
    "chemistry",
    "anode",
    "cathode",
    "form_factor",
    "temperature_celsius",
    "timezone",
    "formation_cycles",
    "tester",
    "barcode",
    "half_cell",
    "counter_electrode",
    "cells_in_series",
)
#: Other names a lab writes for a known key.
_ALIASES = {"series": "cells_in_series"}
#: ``12``, ``12S``, ``12s2p``: the number of cells in series of a module or pack.
_SERIES = re.compile(r"^\s*(\d+)\s*(?:s(?:\s*\d+\s*p)?)?\s*$", re.IGNORECASE)
#: Counter electrodes that make a cell a half-cell (metal against the electrode under test).
_METAL_ELECTRODES = frozenset(
    {"li", "lithium", "li metal", "li-metal", "na", "sodium", "na metal", "k", "potassium"}
)
_TRUE, _FALSE = frozenset({"true", "yes", "1", "y"}), frozenset({"false", "no", "0", "n"})
#: How many parent folders are searched for a ``cells.csv``.
MANIFEST_DEPTH = 2
_META_SUFFIXES = (".meta.yaml", ".meta.yml", ".meta.json")
_ARBIN_KEYS = {
    "item_id": "barcode",
    "test_id": "arbin_test_id",
    "iv_ch_id": "channel",
    "schedule_file_name": "schedule",
    "first_start_datetime": "first_start_unix_second",
}
#: Arbin's names for the nominal capacity (Ah): ``Capacity`` in MITS Pro's Global_Table and Global_Info.
_ARBIN_CAPACITY_KEYS = frozenset({"capacity", "nominal_capacity"})


class SidecarError(ConnectorError):
    """A sidecar or manifest that cannot be read: named with its file and the rule broken."""


def metadata_beside(path: Path) -> dict[str, Any]:
    """Everything the sidecars of `path` say, merged by precedence (module docstring)."""
    merged: dict[str, Any] = {}
    for found in (_meta_file(path), _manifest_row(path), _arbin_metadata(path)):
        for key, value in found.items():
            merged.setdefault(key, value)
    return normalise(merged)


def normalise(metadata: Mapping[str, Any]) -> dict[str, Any]:
    """Numbers as numbers, capacities in Ah and known keys under their own names."""
    out = dict(metadata)
    for alias, key in _ALIASES.items():
        if alias in out:
            value = out.pop(alias)
            out.setdefault(key, value)
    if "nominal_capacity_ah" not in out and "nominal_capacity_mah" in out:
        out["nominal_capacity_ah"] = float(out.pop("nominal_capacity_mah")) / 1000.0
    for key in ("nominal_capacity_ah", "temperature_celsius"):
        if key in out and out[key] not in (None, ""):
            try:
                out[key] = float(out[key])
            except (TypeError, ValueError):
                source = str(out.get("_source", key))
                raise SidecarError(source, f"{key} {out[key]!r} is not a number") from None
    half_cell = _half_cell(out)
    if half_cell is not None:
        out["half_cell"] = half_cell
    if "cells_in_series" in out:
        series = cells_in_series(out["cells_in_series"], str(out.get("_source", "cells_in_series")))
        if series is None:
            out.pop("cells_in_series")
        else:
            out["cells_in_series"] = series
    out.pop("_source", None)
    return out


def cells_in_series(value: Any, source: str) -> int | None:
    """How many cells in series `value` states (a whole number ≥ 1, or ``12S``/``12S2P``); None when it is
    empty. Raises SidecarError naming `source` otherwise."""
    if value is None or (isinstance(value, str) and not value.strip()):
        return None
    count: float | None = None
    if isinstance(value, int | float) and not isinstance(value, bool):
        count = float(value)
    elif isinstance(value, str) and (match := _SERIES.match(value)):
        count = float(match[1])
    if count is None or not count.is_integer() or count < 1:
        raise SidecarError(source, f"cells_in_series {value!r} is not a whole number of cells (1, 12, 12S)")
    return int(count)


def _half_cell(metadata: Mapping[str, Any]) -> bool | None:
    """docs/design.md §11: a half-cell (metal counter electrode) is flagged, its CE kept in the full-cell
    convention. Stated as ``half_cell``, or implied by a ``counter_electrode`` (or an anode) of Li/Na/K
    metal."""
    stated = metadata.get("half_cell")
    if isinstance(stated, bool):
        return stated
    if stated not in (None, ""):
        text = str(stated).strip().lower()
        if text in _TRUE | _FALSE:
            return text in _TRUE
        source = str(metadata.get("_source", "half_cell"))
        raise SidecarError(source, f"half_cell {stated!r} is not true or false")
    for key in ("counter_electrode", "anode"):
        value = metadata.get(key)
        if isinstance(value, str) and value.strip().lower() in _METAL_ELECTRODES:
            return True
    return None


def _meta_file(path: Path) -> dict[str, Any]:
    for base in (path.name, path.stem):
        for suffix in _META_SUFFIXES:
            candidate = path.with_name(base + suffix)
            if candidate.is_file():
                return _load_meta(candidate)
    return {}


def _load_meta(candidate: Path) -> dict[str, Any]:
    try:
        text = candidate.read_text(encoding="utf-8")
        loaded = json.loads(text) if candidate.suffix == ".json" else yaml.safe_load(text)
    except (OSError, ValueError, yaml.YAMLError) as exc:
        raise SidecarError(candidate.name, f"cannot be read as {candidate.suffix[1:]}: {exc}") from exc
    if loaded is None:
        return {}
    if not isinstance(loaded, dict):
        raise SidecarError(candidate.name, "must hold a mapping of keys to values (cell_id: …)")
    return {str(k): v for k, v in loaded.items() if v is not None} | {"_source": candidate.name}


def _manifest_row(path: Path) -> dict[str, Any]:
    folder = path.parent
    for _ in range(MANIFEST_DEPTH + 1):
        manifest = folder / "cells.csv"
        if manifest.is_file():
            return _match_manifest(manifest, path)
        if folder.parent == folder:
            break
        folder = folder.parent
    return {}


def _match_manifest(manifest: Path, path: Path) -> dict[str, Any]:
    with manifest.open(encoding="utf-8-sig", newline="") as handle:
        reader = csv.DictReader(handle)
        if not reader.fieldnames or "file" not in reader.fieldnames:
            raise SidecarError(manifest.name, "needs a 'file' column (a file name or a glob pattern)")
        for number, row in enumerate(reader, start=2):
            pattern = (row.get("file") or "").strip()
            if not pattern:
                raise SidecarError(manifest.name, f"line {number}: empty 'file'")
            if path.name == pattern or fnmatch.fnmatch(path.name, pattern):
                values = {
                    k.strip(): v.strip() for k, v in row.items() if k and k != "file" and v and v.strip()
                }
                return values | {"_source": f"{manifest.name} line {number}"}
    return {}


def _arbin_metadata(path: Path) -> dict[str, Any]:
    sidecar = path.with_name(f"{path.stem}_Metadata.csv")
    if not sidecar.is_file():
        return {}
    with sidecar.open(encoding="utf-8-sig", newline="") as handle:
        rows = list(csv.DictReader(handle))
    if not rows:
        return {}
    found: dict[str, Any] = {}
    for key, value in rows[0].items():
        if not isinstance(key, str) or not isinstance(value, str) or not value.strip():
            continue  # (a row longer than the header puts its extra fields under None, as a list)
        name, text = key.strip().lower(), value.strip()
        if name in _ARBIN_CAPACITY_KEYS:
            capacity = _arbin_capacity(text, sidecar.name, key.strip())
            if capacity is not None:
                found.setdefault("nominal_capacity_ah", capacity)
            continue
        target = _ARBIN_KEYS.get(name) or (name if name in KNOWN_KEYS or name in _ALIASES else None)
        if target:
            found[target] = text
    return found | {"_source": sidecar.name} if found else found


def _arbin_capacity(text: str, label: str, column: str) -> float | None:
    """Arbin writes 0 where the operator left the nominal capacity empty: that is no capacity."""
    try:
        capacity = float(text)
    except ValueError:
        raise SidecarError(label, f"{column} {text!r} is not a number (the nominal capacity in Ah)") from None
    return capacity if capacity > 0 else None
