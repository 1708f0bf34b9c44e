"""A small HTML page per quarantined file: what it is, why it was refused, every finding, and what to do.

Written to ``$BLC_HOME/reports/file-<file_id>.html`` (the ledger's validation result keeps its path in
``report_uri``; `blc status` and the task log print it). Self-contained (no script, no network), every value
escaped: a file name or a finding can hold anything.
"""

from __future__ import annotations

import html
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

_STYLE = (
    "body{font-family:system-ui,sans-serif;margin:2em;max-width:70em;color:#222}"
    "table{border-collapse:collapse}td,th{border:1px solid #ccc;padding:.3em .6em;text-align:left;"
    "vertical-align:top}th{background:#f3f3f3}.error{color:#a00}.warning{color:#a60}code{background:#f6f6f6}"
)


def write_report(
    directory: Path,
    *,
    file_id: int,
    uri: str,
    reason: str,
    stage: str,
    suite: str,
    findings: Sequence[Mapping[str, Any]],
) -> Path:
    """Write the page and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"file-{int(file_id)}.html"
    rows = "".join(_row(finding) for finding in findings)
    e = html.escape
    page = (
        "<!doctype html><html lang=en><meta charset=utf-8>"
        f"<title>Quarantined: {e(Path(uri).name)}</title><style>{_STYLE}</style>"
        f"<h1>Quarantined: {e(Path(uri).name)}</h1>"
        f"<p><b>Why:</b> {e(reason)}</p>"
        f"<p>File <code>{e(uri)}</code> (ledger file_id {int(file_id)}), refused at the <b>{e(stage)}</b>"
        f" stage (suite <code>{e(suite)}</code>) on {datetime.now(UTC):%Y-%m-%d %H:%M:%S} UTC. Nothing of it"
        " was loaded; the file itself was left where it is.</p>"
        "<table><tr><th>severity</th><th>rule</th><th>column</th><th>rows</th><th>first line</th>"
        f"<th>first value</th></tr>{rows}</table>"
        "<h2>What to do</h2><ul>"
        "<li>Fix the file (or its metadata sidecar) and drop it again: new content is a new attempt.</li>"
        "<li>If the reader took it for the wrong format: <code>blc ingest FILE --format NAME</code>.</li>"
        "<li>If the rule is wrong for this file, tell whoever keeps <code>expectations/</code>.</li></ul>"
    )
    path.write_text(page, encoding="utf-8")
    return path


def _row(finding: Mapping[str, Any]) -> str:
    e = html.escape
    severity = str(finding.get("severity") or "error")
    first_rows = finding.get("first_rows") or []
    line = first_rows[0] if first_rows else finding.get("line")
    examples = finding.get("examples") or []
    cells = [
        f'<td class="{e(severity)}">{e(severity)}</td>',
        f"<td>{e(str(finding.get('rule') or finding.get('expectation') or '?'))}</td>",
        f"<td>{e(str(finding.get('column') or ''))}</td>",
        f"<td>{e(str(finding.get('unexpected_count') or ''))}</td>",
        f"<td>{e('' if line is None else str(line))}</td>",
        f"<td>{e(repr(examples[0])[:80] if examples else '')}</td>",
    ]
    return "<tr>" + "".join(cells) + "</tr>"
