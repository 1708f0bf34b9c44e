"""Timestamps and durations in text exports, judged by their values.

- `timestamps_to_unix_seconds`: a column of timestamps to UTC seconds since 1970. Numbers are Unix seconds,
  Unix milliseconds or OLE/Excel day numbers (told apart by magnitude; day numbers are wall-clock dates in
  the lab's timezone); text is tried against the date formats instruments write, in the lab's timezone,
  with a midnight written as the date alone accepted.
- `naive_to_unix_seconds`: wall-clock times to UTC, the repeated autumn hour placed by the test time.
- `durations_to_seconds`: ``0d 01:02:03.5`` (Maccor) or ``01:02:03`` durations.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from connectors.errors import CorruptFile


def is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


_TIMESTAMP_FORMATS = (
    "%Y-%m-%d %H:%M:%S.%f",
    "%Y-%m-%d %H:%M:%S",
    "%Y-%m-%dT%H:%M:%S.%f",
    "%Y-%m-%dT%H:%M:%S",
    "%m/%d/%Y %H:%M:%S.%f",
    "%m/%d/%Y %H:%M:%S",
    "%m/%d/%Y %I:%M:%S %p",
    "%Y-%m-%d %I:%M:%S %p",
    "%d.%m.%Y %H:%M:%S",
    "%Y/%m/%d %H:%M:%S",
)


def timestamps_to_unix_seconds(
    values: pd.Series,
    *,
    timezone: str,
    file_label: str,
    column: str,
    first_line: int | None = None,
    elapsed_seconds: np.ndarray | None = None,
) -> np.ndarray:
    """Parse vendor timestamps (naive ones in the lab's timezone) to UTC seconds since 1970.

    The format is chosen from the first value and then applied to the whole column in one vectorised call.
    Wall-clock times in the hour repeated when daylight saving ends are ambiguous: given the file's
    `elapsed_seconds` (test time) for the same rows, each takes the reading (summer or winter time) that
    keeps the clock in step with the test time; without it they stay NaN.
    """
    first = values.dropna()
    if first.empty:
        return np.full(len(values), np.nan)
    if is_number(str(first.iloc[0]).strip()):  # judged by its values, not its name: numbers are epoch-like
        return _numeric_timestamps(
            values,
            file_label=file_label,
            column=column,
            first_line=first_line,
            timezone=timezone,
            elapsed_seconds=elapsed_seconds,
        )
    # The format is judged on a value with a time of day: a chunk may start on a midnight written as the date
    # alone (below).
    head = first.iloc[:1000]
    timed = head[head.astype("string").str.contains(r"\d[ T]+\d", regex=True).fillna(False)]
    sample = str((timed if not timed.empty else first).iloc[0]).strip()
    for fmt in _TIMESTAMP_FORMATS:
        try:
            pd.to_datetime(sample, format=fmt)
        except ValueError:
            continue
        parsed = pd.to_datetime(values.str.strip(), format=fmt, errors="coerce")
        break
    else:
        raise CorruptFile(file_label, f"column {column!r}: timestamp {sample!r} is in no known format")
    bad = parsed.isna() & values.notna()
    if bad.any() and " " in fmt:
        # Midnight written as the date alone (Maccor: ``10/22/2019``, then ``10/22/2019 00:00:01``).
        date_only = pd.to_datetime(values[bad].str.strip(), format=fmt.split(" ", 1)[0], errors="coerce")
        parsed = parsed.where(~bad, date_only)
        bad = parsed.isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise CorruptFile(
            file_label,
            f"column {column!r}: timestamp {values.iloc[row]!r} is not {fmt}",
            line=None if first_line is None else first_line + row,
        )
    return naive_to_unix_seconds(parsed, timezone, elapsed_seconds)


#: Epoch-like numbers by magnitude: Unix seconds (2001–2286), Unix milliseconds, OLE/Excel day numbers
#: (1982–2119; day 25,569 is 1970-01-01).
_UNIX_SECONDS = (1e9, 1e10)
_UNIX_MILLISECONDS = (1e12, 1e13)
_OLE_DAYS = (30_000.0, 80_000.0)
_OLE_EPOCH_DAY = 25_569.0


def _numeric_timestamps(
    values: pd.Series,
    *,
    file_label: str,
    column: str,
    first_line: int | None,
    timezone: str = "UTC",
    elapsed_seconds: np.ndarray | None = None,
) -> np.ndarray:
    """A timestamp column written as numbers: Unix seconds, Unix milliseconds or OLE day numbers, told
    apart by magnitude; UTC seconds since 1970. Day numbers are wall-clock dates (no zone): lab time."""
    numbers = pd.to_numeric(values.astype("string").str.strip(), errors="coerce").to_numpy(
        dtype=np.float64, na_value=np.nan
    )
    bad = np.isnan(numbers) & values.notna().to_numpy()
    if bad.any():
        row = int(np.flatnonzero(bad)[0])
        raise CorruptFile(
            file_label,
            f"column {column!r}: timestamp {values.iloc[row]!r} is not a number like the rows before it",
            line=None if first_line is None else first_line + row,
        )
    typical = float(np.nanmedian(np.abs(numbers)))
    if _UNIX_SECONDS[0] <= typical < _UNIX_SECONDS[1]:
        return numbers
    if _UNIX_MILLISECONDS[0] <= typical < _UNIX_MILLISECONDS[1]:
        return numbers / 1000.0
    if _OLE_DAYS[0] <= typical < _OLE_DAYS[1]:
        # whole microseconds: float days carry about 1 µs of resolution at today's dates
        micros = np.round((numbers - _OLE_EPOCH_DAY) * 86_400e6)
        naive = pd.Series(pd.to_datetime(micros, unit="us"))
        return naive_to_unix_seconds(naive, timezone, elapsed_seconds)
    raise CorruptFile(
        file_label,
        f"column {column!r}: numbers like {typical:g} are neither Unix seconds, Unix milliseconds nor day"
        " numbers",
        line=first_line,
    )


def naive_to_unix_seconds(
    naive: pd.Series, timezone: str, elapsed_seconds: np.ndarray | None = None
) -> np.ndarray:
    """Wall-clock datetimes (naive ones in `timezone`) → UTC epoch seconds, NaT → NaN. A time in the hour
    repeated when daylight saving ends takes the reading (summer or winter time) that keeps the clock in
    step with `elapsed_seconds` (the rows' test time); without it, it stays NaN."""
    naive = naive.reset_index(drop=True)
    if naive.dt.tz is not None:
        return _epoch_seconds(naive)
    seconds = _epoch_seconds(naive.dt.tz_localize(timezone, ambiguous="NaT", nonexistent="shift_forward"))
    ambiguous = np.isnan(seconds) & naive.notna().to_numpy()
    if ambiguous.any() and elapsed_seconds is not None:
        summer = _epoch_seconds(
            naive.dt.tz_localize(timezone, ambiguous=np.ones(len(naive), bool), nonexistent="shift_forward")
        )
        winter = _epoch_seconds(
            naive.dt.tz_localize(timezone, ambiguous=np.zeros(len(naive), bool), nonexistent="shift_forward")
        )
        elapsed = np.asarray(elapsed_seconds, dtype=np.float64)
        known = ~ambiguous & ~np.isnan(seconds) & ~np.isnan(elapsed)
        # The clock's start: from unambiguous rows, else the summer reading of the first row.
        start = float(np.median((seconds - elapsed)[known])) if known.any() else float(summer[0] - elapsed[0])
        pick_summer = np.abs(summer - elapsed - start) <= np.abs(winter - elapsed - start)
        seconds = np.where(ambiguous, np.where(pick_summer, summer, winter), seconds)
    return seconds


def _epoch_seconds(stamps: pd.Series) -> np.ndarray:
    # total_seconds keeps NaT as NaN and does not depend on the datetime resolution (pandas 3 uses µs).
    since_epoch = stamps.dt.tz_convert("UTC") - pd.Timestamp(0, tz="UTC")
    return since_epoch.dt.total_seconds().to_numpy(dtype=np.float64)


_DURATION = r"^\s*(?:(?P<d>\d+)d\s+)?(?P<h>\d+):(?P<m>\d+):(?P<s>\d+(?:\.\d*)?)\s*$"


def durations_to_seconds(
    values: pd.Series, *, file_label: str, column: str, first_line: int | None = None
) -> np.ndarray:
    """``0d 01:02:03.5`` (Maccor) or ``01:02:03`` durations → seconds, vectorised."""
    parts = values.astype("string").str.extract(_DURATION)
    bad = parts["h"].isna() & values.notna()
    if bad.any():
        row = int(np.flatnonzero(bad.to_numpy())[0])
        raise CorruptFile(
            file_label,
            f"column {column!r}: {values.iloc[row]!r} is not a duration (d hh:mm:ss)",
            line=None if first_line is None else first_line + row,
        )
    numbers = parts.astype("float64")
    days = numbers["d"].fillna(0.0)
    return (days * 86400 + numbers["h"] * 3600 + numbers["m"] * 60 + numbers["s"]).to_numpy(dtype=np.float64)
