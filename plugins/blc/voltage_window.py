"""The voltage a file's samples may reach, from what its metadata says about the cell: one cell's window for
its chemistry (what a real test can drive such a cell to, abuse and over-discharge included) times the cells
in series (``cells_in_series`` in the sidecars: a module or pack).

The canonical suite's voltage expectation is a template (``expectations/canonical_timeseries.json``): its
bounds are the parameters `VoltageWindow.parameters` gives, per file. When the metadata names neither
chemistry nor series, the window is the generic one the suite always had, −10 to 10 V (any single cell,
a small module); a 12S module without metadata is refused, and the reason says which limit applied and
where it came from.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from connectors.sidecars import cells_in_series


@dataclass(frozen=True)
class CellWindow:
    """One cell's voltage: what it is cycled in (`nominal`, for the reader) and the limits a real test of
    such a cell stays within (`min_volt`, `max_volt`): overcharge tests, over-discharge to 0 V and a little
    into reversal. A value beyond them is a unit error, a mislabelled cell or a pack."""

    name: str
    nominal: str
    min_volt: float
    max_volt: float


# Over-discharge drives a cell to 0 V and, forced on, into reversal until the test stops or the cell shorts:
# -2 V per cell. The upper limits are the overcharge (abuse) tests' margins above each chemistry's cut-off.
HALF_CELL = CellWindow("half-cell vs Li/Na metal", "-0.1-5.0 V", -2.0, 5.5)
LTO = CellWindow("LTO-anode", "1.5-2.8 V", -2.0, 4.0)
SODIUM_ION = CellWindow("Na-ion", "1.5-4.3 V", -2.0, 5.0)
LNMO = CellWindow("LNMO (5 V spinel)", "3.5-4.9 V", -2.0, 6.0)
LFP = CellWindow("LFP", "2.0-3.65 V", -2.0, 4.5)
LMFP = CellWindow("LMFP", "2.5-4.3 V", -2.0, 5.0)
LI_ION_OXIDE = CellWindow("NMC/NCA/LCO/LMO Li-ion", "2.5-4.4 V", -2.0, 5.5)
LEAD_ACID = CellWindow("lead-acid", "1.75-2.45 V", -2.0, 3.0)
NICKEL = CellWindow("NiMH/NiCd", "0.9-1.5 V", -2.0, 2.0)
#: When the metadata names no chemistry: the bounds the suite has always had.
DEFAULT_CELL = CellWindow("default", "any chemistry", -10.0, 10.0)

#: First match wins: the electrode that sets the window is tested before the family names that may come
#: with it ("LFP/LTO" is an LTO-anode cell, "LMFP" is no LFP).
_PATTERNS: tuple[tuple[re.Pattern[str], CellWindow], ...] = (
    (re.compile(r"\blto\b|li4ti5o12|titanate"), LTO),
    (re.compile(r"\bna[- ]?ion\b|\bsodium\b|\bnvpf\b|\bna\d|\bsib\b"), SODIUM_ION),
    (re.compile(r"\blnmo\b|lini0\.5mn1\.5"), LNMO),
    (re.compile(r"\blmfp|limnfepo4|limn[\d.]*fe[\d.]*po4"), LMFP),
    (re.compile(r"\blfp|lifepo4"), LFP),
    (
        re.compile(r"\b(nmc|ncm|nca|lco|lmo|nmca)|licoo2|limn2o4|lini|li[- ]?ion\b|lithium[- ]ion"),
        LI_ION_OXIDE,
    ),
    (re.compile(r"\blead\b|\bpb[- ]?acid|\bvrla\b"), LEAD_ACID),
    (re.compile(r"\bni[- ]?mh\b|\bni[- ]?cd\b|nickel"), NICKEL),
)
_CHEMISTRY_KEYS = ("chemistry", "cathode", "anode")


@dataclass(frozen=True)
class VoltageWindow:
    """The bounds of one file's voltage_volt: `cell` × `series`, and what in its metadata chose them."""

    cell: CellWindow
    series: int
    #: The metadata that set the window, e.g. "chemistry 'LFP/graphite', cells_in_series 12", or "none".
    basis: str

    @property
    def min_volt(self) -> float:
        return self.cell.min_volt * self.series

    @property
    def max_volt(self) -> float:
        return self.cell.max_volt * self.series

    def parameters(self) -> dict[str, float]:
        """The suite parameters of the voltage expectation."""
        return {"voltage_min_volt": self.min_volt, "voltage_max_volt": self.max_volt}

    def source(self) -> str:
        return f"{self.cell.name} cell window, from metadata: {self.basis}"

    def limit(self, side: str) -> str:
        """One bound as it was reached: "4.5 V × 1 in series (LFP cell window, from metadata: …)"."""
        volt = self.cell.max_volt if side == "above" else self.cell.min_volt
        return f"{volt:g} V × {self.series} in series ({self.source()})"

    def describe(self) -> str:
        """The whole window: "-2 to 5.5 V × 12 in series = -24 to 66 V (… cell window, from metadata: …)"."""
        text = f"{self.cell.min_volt:g} to {self.cell.max_volt:g} V × {self.series} in series"
        if self.series != 1:
            text += f" = {self.min_volt:g} to {self.max_volt:g} V"
        return f"{text} ({self.source()})"


def voltage_window(metadata: Mapping[str, Any]) -> VoltageWindow:
    """The window of a file whose metadata (sidecars merged over the file's own) is `metadata`. Raises
    SidecarError (a ConnectorError: the file is quarantined) for a series count that is no whole number."""
    basis: list[str] = []
    cell = DEFAULT_CELL
    if metadata.get("half_cell") is True:
        cell = HALF_CELL
        basis.append("half_cell true")
    else:
        stated = [
            (key, value.strip())
            for key in _CHEMISTRY_KEYS
            if isinstance(value := metadata.get(key), str) and value.strip()
        ]
        found = _chemistry_window(stated)
        if found is not None:
            cell, key, value = found
            basis.append(f"{key} {value!r}")
    series = cells_in_series(metadata.get("cells_in_series"), "the file's metadata")
    if series is not None:
        basis.append(f"cells_in_series {series}")
    return VoltageWindow(cell, series or 1, ", ".join(basis) or "none")


def _chemistry_window(stated: list[tuple[str, str]]) -> tuple[CellWindow, str, str] | None:
    """The window of the first pattern any stated field matches, with that field."""
    for pattern, window in _PATTERNS:
        for key, value in stated:
            if pattern.search(value.lower()):
                return window, key, value
    return None
