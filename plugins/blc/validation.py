"""Validate a pandas frame against a Great Expectations suite stored as JSON in ``expectations/``.

``validate_frame`` runs one suite over one whole frame and returns a small, JSON-safe
``ValidationReport``; ``assert_valid`` raises ``ValidationFailed`` instead, whose message is the
one-line quarantine reason: the file, the column, the rule and the first offending line, e.g.
``FastCharge.csv: current_ampere must not be null — 3 rows fail, first at line 57 (value null)``.

Row ``i`` of a canonical frame is physical line ``first_data_line + i`` of its source file, so the
frame is validated by position (a non-default index is dropped first) and the row numbers GX
reports are shifted by ``first_data_line`` when the caller knows it.

Great Expectations takes seconds to import, so it is imported on first use, never here. One
ephemeral Data Context per process holds one pandas datasource, one dataframe asset and one
whole-dataframe batch definition; each suite variant gets its own validation definition, created
once and reused, so repeated calls never collide on names.

Optional columns: an expectation whose ``meta`` has ``optional_column: true`` is dropped from the
run when the frame lacks its column (GX would otherwise report "column does not exist").

Per-file bounds: a suite is a template. The voltage expectation's bounds are suite parameters
(``{"$PARAMETER": "voltage_min_volt"}``) given per run by the file's `VoltageWindow` (its chemistry's cell
window × cells in series, from its metadata; −10 to 10 V when it says nothing), and a failure says which
limit applied and where it came from: ``m.csv: voltage_volt 34.7 V above 10 V × 1 in series (default cell
window, from metadata: none), first at line 57 — 3 rows outside -10 to 10 V``.
"""

from __future__ import annotations

import copy
import json
import logging
import math
import threading
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from blc.validation_report import (
    ERROR,
    MAX_EXAMPLES,
    SEVERITIES,
    WARNING,
    FailedExpectation,
    ValidationFailed,
    ValidationReport,
    exception_text,
    json_safe,
)
from blc.voltage_window import VoltageWindow, voltage_window

if TYPE_CHECKING:
    import great_expectations as gx
    import pandas as pd

log = logging.getLogger(__name__)

#: The suite every canonical time series passes before it is published (expectations/<name>.json).
CANONICAL_SUITE = "canonical_timeseries"

# SUMMARY gives the first unexpected values and their row indices without materialising full
# index lists: on 1M rows with 100k bad values COMPLETE would build (and keep) 100k-element lists.
_RESULT_FORMAT: dict[str, Any] = {"result_format": "SUMMARY", "partial_unexpected_count": MAX_EXAMPLES}


def load_suite(name: str, expectations_dir: Path) -> gx.ExpectationSuite:
    """The suite ``expectations_dir/<name>.json``, read once per process (do not mutate it)."""
    key = (name, Path(expectations_dir).resolve())
    with _LOCK:
        suite = _SUITES.get(key)
        if suite is None:
            gx = _import_gx()
            suite = gx.ExpectationSuite(**copy.deepcopy(_read_suite_json(*key)))
            _SUITES[key] = suite
        return suite


def validate_frame(
    frame: pd.DataFrame,
    suite_name: str,
    *,
    expectations_dir: Path,
    first_data_line: int | None = None,
    window: VoltageWindow | None = None,
    parameters: Mapping[str, float] | None = None,
) -> ValidationReport:
    """Run suite ``suite_name`` over the whole ``frame`` and report what failed, in suite order. The
    voltage bounds are `window`'s (the file's, from its metadata), the default cell window when None;
    `parameters` gives the suite's other parameters (`suite_parameters`)."""
    frame = _positional(frame)
    window = window or voltage_window({})
    directory = Path(expectations_dir).resolve()
    with _LOCK:
        document = _read_suite_json(suite_name, directory)
        skipped = tuple(
            position
            for position, expectation in enumerate(document["expectations"])
            if (expectation.get("meta") or {}).get("optional_column")
            and (expectation.get("kwargs") or {}).get("column") not in frame.columns
        )
        runner = _runner(suite_name, directory, skipped)
        try:
            result = runner.definition.run(
                batch_parameters={"dataframe": frame},
                expectation_parameters={**suite_parameters({}), **(parameters or {}), **window.parameters()},
                result_format=_RESULT_FORMAT,
            )
        finally:
            _forget_run()

    failures: list[tuple[int, FailedExpectation]] = []
    for expectation_result in result.results:
        if expectation_result.success:
            continue
        info = runner.expectations[expectation_result.expectation_config.id]
        failures.append((info.position, _failure(info, expectation_result, first_data_line, window)))
    failures.sort(key=lambda item: item[0])
    return ValidationReport(
        suite=suite_name,
        success=not any(failure.severity != WARNING for _, failure in failures),
        evaluated=len(result.results),
        failed=tuple(failure for _, failure in failures),
        first_data_line=first_data_line,
    )


_WARM_UP: threading.Thread | None = None
_WARM_UP_LOCK = threading.Lock()


def warm_up(suite_name: str, *, expectations_dir: Path) -> threading.Thread:
    """Import Great Expectations and build the suite's runner in a background thread.

    The import costs seconds of CPU in every fresh process (each Airflow task is one). Started before a
    file is parsed, it overlaps the parse and the first COPY instead of adding to them; ``validate_frame``
    waits for it through the module lock."""

    def build() -> None:
        try:
            with _LOCK:
                _runner(suite_name, Path(expectations_dir).resolve(), ())
            from blc import tuning

            tuning.trim_heap()  # the import's garbage: tens of MB of freed heap
        except Exception:  # the real call reports it, with its context
            log.debug("warming up Great Expectations failed", exc_info=True)

    global _WARM_UP
    with _WARM_UP_LOCK:
        if _WARM_UP is None:  # once per process: later calls find the runner built (or being built)
            # Great Expectations imports sqlalchemy.orm, which SQLAlchemy's core also imports lazily on first
            # use: two threads importing that module graph at once can meet it half-initialised
            # ("partially initialized module 'sqlalchemy.orm.exc' has no attribute …"), seen on a cold
            # start. It is imported here, on the calling thread, before the warm-up thread starts.
            import sqlalchemy.orm  # noqa: F401

            _WARM_UP = threading.Thread(target=build, name="gx-warm-up", daemon=True)
            _WARM_UP.start()
        return _WARM_UP


def assert_valid(
    frame: pd.DataFrame,
    suite_name: str,
    *,
    expectations_dir: Path,
    file_label: str,
    first_data_line: int | None = None,
    window: VoltageWindow | None = None,
) -> ValidationReport:
    """``validate_frame``, raising ``ValidationFailed`` unless every expectation passed."""
    report = validate_frame(
        frame,
        suite_name,
        expectations_dir=expectations_dir,
        first_data_line=first_data_line,
        window=window,
    )
    if not report.success:
        raise ValidationFailed(report, file_label)
    return report


# --- Great Expectations plumbing (per process) ----------------------------------------------------

# GX's ephemeral context and its stores are not thread-safe; one lock serialises runs in a process.
_LOCK = threading.RLock()
_DOCUMENTS: dict[tuple[str, Path], dict[str, Any]] = {}
_SUITES: dict[tuple[str, Path], gx.ExpectationSuite] = {}


@dataclass(frozen=True)
class _ExpectationInfo:
    position: int  # in the suite file, so failures are reported in the order the suite lists them
    expectation: str
    column: str | None
    rule: str
    #: The suite parameters its kwargs name ({"$PARAMETER": …}): its bounds are set per run.
    parameters: tuple[str, ...] = ()
    severity: str = ERROR


@dataclass(frozen=True)
class _Runner:
    definition: Any  # gx.ValidationDefinition
    expectations: Mapping[str, _ExpectationInfo]  # by the id GX gave each expectation


@dataclass
class _GxState:
    context: Any  # great_expectations EphemeralDataContext
    datasource: Any  # its PandasDatasource
    batch_definition: Any
    runners: dict[tuple[str, Path, tuple[int, ...]], _Runner] = field(default_factory=dict)


_STATE: _GxState | None = None


def _read_suite_json(name: str, directory: Path) -> dict[str, Any]:
    key = (name, directory)
    document = _DOCUMENTS.get(key)
    if document is None:
        path = directory / f"{name}.json"
        with path.open(encoding="utf-8") as handle:
            document = json.load(handle)
        if document.get("name") != name:
            raise ValueError(f"{path}: suite name is {document.get('name')!r}, expected {name!r}")
        if not isinstance(document.get("expectations"), list):
            raise ValueError(f"{path}: no expectations list")
        _DOCUMENTS[key] = document
    return document


def _import_gx() -> Any:
    """Import great_expectations (seconds, once) without its INFO chatter in every task log."""
    from blc import tuning

    tuning.defer_unused_imports()
    gx_logger = logging.getLogger("great_expectations")
    if gx_logger.level == logging.NOTSET:  # leave alone a level someone configured on purpose
        gx_logger.setLevel(logging.WARNING)
    import great_expectations as gx

    return gx


def _gx_state() -> _GxState:
    global _STATE
    if _STATE is None:
        gx = _import_gx()
        from great_expectations.data_context.types.base import (
            DataContextConfig,
            InMemoryStoreBackendDefaults,
            ProgressBarsConfig,
        )

        config = DataContextConfig(
            # get_context's default ephemeral config also plans a temporary data-docs site; we build none.
            store_backend_defaults=InMemoryStoreBackendDefaults(init_temp_docs_sites=False),
            # Otherwise tqdm draws "Calculating Metrics" bars into every task log.
            progress_bars=ProgressBarsConfig(globally=False, metric_calculations=False),
            analytics_enabled=False,
        )
        context = gx.get_context(mode="ephemeral", project_config=config)
        datasource = context.data_sources.add_pandas(name="blc_frames")
        asset = datasource.add_dataframe_asset(name="frame")
        _STATE = _GxState(
            context=context,
            datasource=datasource,
            batch_definition=asset.add_batch_definition_whole_dataframe(name="whole_frame"),
        )
    return _STATE


def _runner(suite_name: str, directory: Path, skipped: tuple[int, ...]) -> _Runner:
    state = _gx_state()
    key = (suite_name, directory, skipped)
    runner = state.runners.get(key)
    if runner is not None:
        return runner

    gx = _import_gx()
    document = _read_suite_json(suite_name, directory)
    kept = [
        (position, copy.deepcopy(expectation))
        for position, expectation in enumerate(document["expectations"])
        if position not in skipped
    ]
    # Names only need to be unique inside our own context: one per suite file and variant.
    variant = f"{suite_name}__{len(state.runners)}"
    suite = gx.ExpectationSuite(
        name=variant,
        expectations=[expectation for _, expectation in kept],
        meta=copy.deepcopy(document.get("meta") or {}),
    )
    if len(suite.expectations) != len(kept):
        # ExpectationSuite logs and drops an invalid expectation; a suite must not shrink silently.
        raise ValueError(f"suite {suite_name}: {len(kept) - len(suite.expectations)} invalid expectation(s)")
    suite = state.context.suites.add(suite)
    definition = state.context.validation_definitions.add(
        gx.ValidationDefinition(name=variant, data=state.batch_definition, suite=suite)
    )
    expectations: dict[str, _ExpectationInfo] = {}
    for (position, raw), configured in zip(kept, suite.expectations, strict=True):
        kwargs = raw.get("kwargs") or {}
        column = kwargs.get("column")
        rule = (raw.get("meta") or {}).get("rule") or f"{raw['type']}" + (f" on {column}" if column else "")
        parameters = tuple(
            str(value["$PARAMETER"])
            for value in kwargs.values()
            if isinstance(value, Mapping) and "$PARAMETER" in value
        )
        severity = (raw.get("meta") or {}).get("severity", ERROR)
        if severity not in SEVERITIES:
            raise ValueError(f"suite {suite_name}: expectation {position + 1} has severity {severity!r}")
        expectations[str(configured.id)] = _ExpectationInfo(
            position, raw["type"], column, str(rule), parameters, severity
        )
    runner = _Runner(definition=definition, expectations=expectations)
    state.runners[key] = runner
    return runner


def _forget_run() -> None:
    """Drop what GX keeps after a run, so nothing of one frame outlives its validation.

    ValidationDefinition.run stores each result in the context's in-memory results store, and the
    pandas execution engine keeps the last batch (the whole frame) and a metric cache keyed by the
    asset's batch id, which is the same for every frame: a later run could fall back on a previous
    frame's metrics, and a long-lived worker would hold a frame it no longer needs.
    """
    state = _gx_state()
    store = state.context.validation_results_store
    for key in store.list_keys():
        store.remove_key(key)
    engine = state.datasource.get_execution_engine()
    engine.batch_manager.reset_batch_cache()
    engine.batch_manager.batch_data_cache.clear()
    engine._metric_cache.clear()  # no public way to empty it in GX 1.24


def _positional(frame: pd.DataFrame) -> pd.DataFrame:
    import pandas as pd

    index = frame.index
    if isinstance(index, pd.RangeIndex) and index.start == 0 and index.step == 1:
        return frame
    return frame.reset_index(drop=True)


def _failure(
    info: _ExpectationInfo, expectation_result: Any, first_data_line: int | None, window: VoltageWindow
) -> FailedExpectation:
    result: Mapping[str, Any] = expectation_result.result or {}
    offset = first_data_line or 0
    rows = [int(row) + offset for row in (result.get("partial_unexpected_index_list") or [])[:MAX_EXAMPLES]]
    examples = list(result.get("partial_unexpected_list") or [])[:MAX_EXAMPLES]
    if not examples and "observed_value" in result:
        examples = [result["observed_value"]]
    count = result.get("unexpected_count")
    rule, limits = info.rule, None
    if info.parameters and set(info.parameters) <= set(window.parameters()):
        rule = f"{info.column} must be within {window.describe()}"
        limits = {
            "min": window.min_volt,
            "max": window.max_volt,
            "unit": "V",
            "above": window.limit("above"),
            "below": window.limit("below"),
        }
    return FailedExpectation(
        expectation=info.expectation,
        column=info.column,
        rule=rule,
        unexpected_count=None if count is None else int(count),
        first_rows=rows,
        examples=[json_safe(value) for value in examples],
        error=exception_text(expectation_result.exception_info),
        limits=limits,
        # A rule that could not even be evaluated (its column missing, a type error) is an error.
        severity=ERROR
        if expectation_result.exception_info and exception_text(expectation_result.exception_info)
        else info.severity,
    )


#: A current above this many times the nominal capacity (30C) is a warning: mA read as A, a pack's current
#: under a cell's metadata. Without a nominal capacity only the suite's absolute bound applies.
C_RATE_WARNING = 30.0
_NO_LIMIT_AMPERE = 1e4


def suite_parameters(metadata: Mapping[str, Any]) -> dict[str, float]:
    """The canonical suite's per-file parameters besides the voltage window: the current bounds of its
    warning, from the nominal capacity in the metadata."""
    try:
        nominal = float(metadata.get("nominal_capacity_ah") or 0.0)
    except (TypeError, ValueError):
        nominal = 0.0
    limit = C_RATE_WARNING * nominal if math.isfinite(nominal) and nominal > 0 else _NO_LIMIT_AMPERE
    return {"current_warning_min_ampere": -limit, "current_warning_max_ampere": limit}


#: The suite every file's cell metadata passes (expectations/cell_metadata.json).
METADATA_SUITE = "cell_metadata"
#: The metadata fields it checks, as the sidecars normalise them (connectors/sidecars.py).
METADATA_FIELDS = (
    "nominal_capacity_ah",
    "cells_in_series",
    "temperature_celsius",
    "chemistry",
    "form_factor",
)


class MetadataInvalid(ValidationFailed):
    """The cell metadata broke an error of its suite: the reason names the field, the rule and the value."""

    def __init__(self, report: ValidationReport, file_label: str) -> None:
        super().__init__(report, file_label)
        first = report.errors[0]
        value = f" (value {first.examples[0]!r})" if first.examples else ""
        self.args = (f"{file_label}: metadata: {first.rule}{value}",)


def check_metadata(
    metadata: Mapping[str, Any], *, expectations_dir: Path, file_label: str
) -> ValidationReport:
    """Run the metadata suite over the fields the metadata gives (one row); raise MetadataInvalid on an
    error, return the report (its warnings) otherwise."""
    import pandas as pd

    given = {key: metadata[key] for key in METADATA_FIELDS if metadata.get(key) not in (None, "")}
    frame = pd.DataFrame(
        {
            key: pd.Series([value], dtype=object if isinstance(value, str) else "float64")
            for key, value in given.items()
        }
    )
    if frame.empty:
        frame = pd.DataFrame(index=[0])
    report = validate_frame(frame, METADATA_SUITE, expectations_dir=expectations_dir)
    report = replace(report, failed=tuple(replace(f, first_rows=[]) for f in report.failed))
    if not report.success:
        raise MetadataInvalid(report, file_label)
    return report


def suite_columns(suite_name: str, *, expectations_dir: Path) -> tuple[str, ...]:
    """The columns the suite's expectations name, in suite order."""
    document = _read_suite_json(suite_name, Path(expectations_dir).resolve())
    columns = ((expectation.get("kwargs") or {}).get("column") for expectation in document["expectations"])
    return tuple(dict.fromkeys(c for c in columns if c))


def _plain_numbers(frame: pd.DataFrame) -> pd.DataFrame:
    """Nullable integer columns (a cycle counter read as ``Int64``) as NumPy integers, or floats when they
    hold nulls: Great Expectations checks a nullable column about ten times slower (0.1 s per 200,000 rows
    and expectation), and a range check means the same on either."""
    import pandas as pd

    converted = {}
    for column in frame.columns:
        dtype = frame[column].dtype
        if isinstance(dtype, pd.api.extensions.ExtensionDtype) and pd.api.types.is_integer_dtype(dtype):
            converted[column] = "float64" if frame[column].hasnans else "int64"
    return frame.astype(converted) if converted else frame


class ChunkValidator:
    """Validate a file that arrives chunk by chunk, without holding the file and without waiting for Great
    Expectations to finish importing.

    Only the columns the suite names are kept (4 of a file's 15-odd), queued until GX is ready and
    `batch_rows` have gathered, then validated in one run (GX costs ~0.07 s a run however small the frame).
    Each batch is validated together with the last row of the batch before it, so rules between
    neighbouring rows hold across batches, and line numbers stay those of the file. `finish` validates the
    rest. Callers load the chunks meanwhile inside a transaction they commit only after `finish`."""

    def __init__(
        self,
        suite_name: str,
        *,
        expectations_dir: Path,
        file_label: str,
        first_data_line: int | None,
        batch_rows: int,
        warm_up_thread: threading.Thread | None = None,
        window: VoltageWindow | None = None,
        parameters: Mapping[str, float] | None = None,
    ) -> None:
        self.suite_name = suite_name
        self.window = window or voltage_window({})
        self.expectations_dir = Path(expectations_dir)
        self.file_label = file_label
        self.batch_rows = batch_rows
        self.columns = suite_columns(suite_name, expectations_dir=self.expectations_dir)
        self.batches = 0
        self._warm_up = warm_up_thread
        self._pending: list[pd.DataFrame] = []
        self._pending_rows = 0
        self._previous: pd.DataFrame | None = None
        self._next_line = first_data_line
        #: The voltages seen, for the line that says the file's voltage fits its window.
        self._voltage_min = math.inf
        self._voltage_max = -math.inf
        #: Findings of severity warning, merged across batches (one per rule).
        self._warnings: dict[tuple[str, str | None, str], FailedExpectation] = {}
        self._parameters = dict(parameters or {})

    def warnings(self) -> list[FailedExpectation]:
        """The warnings found in the whole file, one per rule: rows counted over every batch, the first
        line and value of the first batch that broke it."""
        return list(self._warnings.values())

    def _keep_warnings(self, report: ValidationReport) -> None:
        for found in report.warnings:
            key = (found.expectation, found.column, found.rule)
            earlier = self._warnings.get(key)
            if earlier is None:
                self._warnings[key] = found
            elif earlier.unexpected_count is not None and found.unexpected_count is not None:
                self._warnings[key] = replace(
                    earlier, unexpected_count=earlier.unexpected_count + found.unexpected_count
                )

    def add(self, chunk: pd.DataFrame) -> None:
        if "voltage_volt" in chunk.columns and len(chunk):
            volt = chunk["voltage_volt"]
            self._voltage_min = min(self._voltage_min, float(volt.min()))
            self._voltage_max = max(self._voltage_max, float(volt.max()))
        self._pending.append(_plain_numbers(chunk[[c for c in self.columns if c in chunk.columns]]))
        self._pending_rows += len(chunk)
        ready = self._warm_up is None or not self._warm_up.is_alive()
        if ready and self._pending_rows >= self.batch_rows:
            self._drain()

    def resume_after(self, last_row: pd.DataFrame) -> None:
        """Validate as the continuation of rows already validated, the last of which is `last_row` (a file
        that grew: only its new rows are checked, against the row before them)."""
        self._previous = last_row[[c for c in self.columns if c in last_row.columns]].iloc[[-1]]

    def finish(self) -> None:
        if self._pending or self._previous is None:
            self._drain()
        if math.isfinite(self._voltage_min):
            log.info(
                "%s: voltage_volt %g to %g V within %s",
                self.file_label,
                self._voltage_min,
                self._voltage_max,
                self.window.describe(),
            )

    def _drain(self) -> None:
        """Validate the queue a batch at a time: a backlog gathered while GX imported is not validated in
        one run, whose working memory would grow with it."""
        queue, self._pending, self._pending_rows = self._pending, [], 0
        while queue or self._previous is None:
            taken = 0
            while queue and (taken == 0 or taken + len(queue[0]) <= self.batch_rows):
                frame = queue.pop(0)
                self._pending.append(frame)
                taken += len(frame)
            self._pending_rows = taken
            self._validate_pending()
            if not queue:
                break

    def _validate_pending(self) -> None:
        import pandas as pd

        frames = ([self._previous] if self._previous is not None else []) + self._pending
        frame = pd.concat(frames, ignore_index=True) if len(frames) > 1 else frames[0] if frames else None
        if frame is None:
            frame = pd.DataFrame({c: pd.Series(dtype="float64") for c in self.columns})
        first_line = self._next_line
        if first_line is not None and self._previous is not None:
            first_line -= 1
        report = validate_frame(
            frame,
            self.suite_name,
            expectations_dir=self.expectations_dir,
            first_data_line=first_line,
            window=self.window,
            parameters=self._parameters,
        )
        self.batches += 1
        if not report.success:
            raise ValidationFailed(report, self.file_label)
        self._keep_warnings(report)
        if self._next_line is not None:
            self._next_line += self._pending_rows
        self._previous = frame.iloc[[-1]] if len(frame) else None
        self._pending, self._pending_rows = [], 0
