"""The current's sign checked on a file's first chunks, before any of its rows is written.

`checked_signs` reads the evidence columns of the first chunk(s) (`processors.signs`: the voltage's slope at
steady current, the charge/discharge counters, step labels) until the voltage has spoken over enough
segments, or `MAX_EVIDENCE_ROWS` rows, or the end of the file, and asks `processors.signs.judge`:

- the evidence agrees with the declared convention (positive = charge), or there is none: the stream is
  returned as it is;
- it clearly contradicts it: every chunk the stream hands out from then on is corrected (current and power
  negated, and/or charge/discharge counters swapped), and the reason, naming the evidence, goes into
  `StreamedRead.warnings`, which the load records on the file's ledger row;
- it is mixed: `CurrentSignContradiction` (a ConnectorError, so the file is quarantined with the reason).
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import replace

import pandas as pd

from blc.impedance import without_impedance
from connectors.base import StreamedRead
from connectors.errors import ConnectorError
from processors.signs import (
    COUNTER_PAIRS,
    Evidence,
    SignAction,
    SignVerdict,
    corrected,
    evidence,
    evidence_columns,
    judge,
)

log = logging.getLogger(__name__)

#: The evidence is read from at most this many rows at the start of a file (one to a few chunks).
MAX_EVIDENCE_ROWS = 400_000
#: The step-label column a reader may hand out beside the canonical ones (none does yet: BDF's
#: ``step_type`` is unmapped).
LABEL_COLUMN = "step_type"


class CurrentSignContradiction(ConnectorError):
    """The file's current, voltage, counters and labels disagree about which way the current flows."""


def checked_signs(stream: StreamedRead, label: str) -> tuple[StreamedRead, SignVerdict]:
    """`stream`, corrected when its current's sign (or its counters) contradict the evidence, and the
    verdict. Raises CurrentSignContradiction when the evidence is mixed."""
    verdict = judge(_evidence(stream))
    if verdict.action is SignAction.REFUSE:
        raise CurrentSignContradiction(label, verdict.reason)
    if not (verdict.flips_current or verdict.swaps_counters):
        log.debug("%s: current sign as declared: %s", label, verdict.reason)
        return stream, verdict
    log.warning("%s: %s", label, verdict.reason)
    stream.warnings.append(verdict.reason)
    partner = {a: b for pair in COUNTER_PAIRS for a, b in (pair, pair[::-1])}
    source = stream.chunks

    def chunks(columns: Sequence[str] | None) -> Iterator[pd.DataFrame]:
        wanted = None
        if columns is not None:  # a swap needs each counter's partner, read though not asked for
            partners = [partner[c] for c in columns if partner.get(c) in stream.columns]
            wanted = list(dict.fromkeys([*columns, *partners]))
        for chunk in source(wanted):
            fixed = corrected(chunk, verdict)
            yield fixed if columns is None else fixed[[c for c in columns if c in fixed.columns]]

    return replace(stream, chunks=chunks), verdict


def _evidence(stream: StreamedRead) -> Evidence:
    """The evidence of the first chunks: read until it is enough, `MAX_EVIDENCE_ROWS`, or the file's end."""
    if "current_ampere" not in stream.columns or "voltage_volt" not in stream.columns:
        return Evidence()  # the suite refuses the file, naming the missing column
    extra = [c for c in ("frequency_hertz", LABEL_COLUMN) if c in stream.columns]
    wanted = evidence_columns(stream.columns) + extra
    frames: list[pd.DataFrame] = []
    rows = 0
    found = Evidence()
    chunks = stream.chunks(wanted)
    try:
        for chunk in chunks:
            frames.append(without_impedance(chunk))
            rows += len(chunk)
            found = _of(frames, closed=False)
            if found.enough or rows >= MAX_EVIDENCE_ROWS:
                return found
        return _of(frames, closed=True)
    finally:
        close = getattr(chunks, "close", None)
        if close is not None:
            close()  # a generator left early: its file is closed now, not at garbage collection


def _of(frames: list[pd.DataFrame], *, closed: bool) -> Evidence:
    if not frames:
        return Evidence()
    frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0].reset_index(drop=True)
    labels = frame[LABEL_COLUMN].astype(str).tolist() if LABEL_COLUMN in frame.columns else None
    return evidence(frame, labels=labels, closed=closed)
