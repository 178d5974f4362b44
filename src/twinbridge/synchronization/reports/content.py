"""What a diagnostic report holds, and its HTML rendering.

A report is one task's: its file, the result, what was inserted, updated, deleted and left unchanged, every
warning (with the GlobalId or element it concerns), every product left out and why, whether the run wrote
a new version, and how long each phase took. It is stored as JSON; the HTML page renders the same content
for a person.
"""

from __future__ import annotations

import base64
import hashlib
import html
from typing import Any

REPORT_VERSION = 1


def report_id(run_id: str, task_id: str) -> str:
    """Derived from the run and the task (as upstream's base64url ids look), so a retried run's report
    replaces the report of its earlier attempt."""
    digest = hashlib.sha256(f"{run_id}/{task_id}".encode()).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode()


def report_key(run_id: str, task_id: str) -> str:
    return f"synchronization/reports/{run_id}/{task_id}.json"


def _cell(value: Any) -> str:
    return html.escape("" if value is None else str(value))


def _table(rows: list[dict[str, Any]], columns: list[tuple[str, str]]) -> str:
    if not rows:
        return "<p>None.</p>"
    head = "".join(f"<th>{_cell(title)}</th>" for _, title in columns)
    body = "".join(
        "<tr>" + "".join(f"<td>{_cell(row.get(name))}</td>" for name, _ in columns) + "</tr>" for row in rows
    )
    return f"<table><thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def render_html(report: dict[str, Any]) -> str:
    """The report as a page a person reads; every value from the report is escaped."""
    file = report.get("file") or {}
    elements = report.get("elements") or {}
    timings = report.get("timings") or {}
    version = report.get("version") or {}
    error = report.get("error")
    document = file.get("documentAttribute") or {}
    upgrade = report.get("schemaUpgrade") or {}
    title = f"Synchronization report: {file.get('name') or report.get('taskId')}"
    facts = [
        ("Run", report.get("runId")),
        ("Task", report.get("taskId")),
        ("iModel", report.get("iModelId")),
        ("Connection", report.get("connectionId")),
        ("File", file.get("name")),
        ("Connector", file.get("connectorType")),
        ("IFC schema", file.get("schema")),
        ("Result", report.get("result")),
        ("Summary", report.get("message")),
        ("New version", version.get("message")),
        ("Schema upgrade", f"{upgrade['before']} -> {upgrade['after']}" if upgrade else "none needed"),
        ("Document class", document.get("className")),
        ("Created", report.get("createdDateTime")),
    ]
    parts = [
        "<!DOCTYPE html>",
        '<html lang="en"><head><meta charset="utf-8">',
        f"<title>{_cell(title)}</title>",
        "<style>body{font-family:sans-serif;margin:2em}table{border-collapse:collapse;margin-bottom:1em}"
        "td,th{border:1px solid #ccc;padding:.25em .5em;text-align:left}th{background:#eee}</style>",
        "</head><body>",
        f"<h1>{_cell(title)}</h1>",
        "<table><tbody>"
        + "".join(f"<tr><th>{_cell(name)}</th><td>{_cell(value)}</td></tr>" for name, value in facts)
        + "</tbody></table>",
    ]
    if document.get("properties"):
        properties = document["properties"]
        parts += ["<h2>Document properties</h2>", _table([properties], [(name, name) for name in properties])]
    if error:
        parts += ["<h2>Error</h2>", _table([error], [(name, name) for name in error])]
    parts += [
        "<h2>Elements</h2>",
        _table([elements], [(name, name) for name in elements]) if elements else "<p>None.</p>",
        f"<h2>Warnings ({len(report.get('warnings') or [])})</h2>",
        _table(
            report.get("warnings") or [],
            [("code", "Code"), ("message", "Message"), ("globalId", "GlobalId"), ("elementId", "Element")],
        ),
        f"<h2>Skipped ({len(report.get('skipped') or [])})</h2>",
        _table(
            report.get("skipped") or [],
            [("ifcClass", "IFC class"), ("globalId", "GlobalId"), ("reason", "Reason")],
        ),
        "<h2>Timings (seconds)</h2>",
        _table([timings], [(name, name) for name in timings]) if timings else "<p>None.</p>",
        "</body></html>",
    ]
    return "\n".join(parts)
