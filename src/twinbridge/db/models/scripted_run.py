"""Scripted runs (the control API's, issue 15; no upstream counterpart): rules, and what each run follows.

A rule matches a connection, every connection of an iModel, or every run; the newest matching rule wins, for
`remaining` runs (None: for every run). Kept in the database because runs execute in other processes.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from twinbridge.platform.time import utc_now


@dataclass(slots=True)
class ScriptedRunRule:
    id: str
    # What it matches: a connection, or every connection of an iModel, or (both None) every run.
    connection_id: str | None
    imodel_id: str | None
    # The path the run follows (steps, result, errors, output); None for an engine fault.
    script: dict[str, Any] | None
    # "crash": the engine is killed under the run, which is then retried on a fresh one.
    engine_fault: str | None = None
    remaining: int | None = None
    created_at: datetime = field(default_factory=utc_now)


@dataclass(slots=True)
class ScriptedRun:
    """What one run follows, chosen when a worker first takes it (so a retried run keeps its script and an
    engine fault strikes once), and the state it is held in until a test releases it."""

    run_id: str
    rule_id: str | None  # None: the default script of TWINBRIDGE_SCRIPTED_RUNS_ONLY
    script: dict[str, Any] | None
    engine_fault: str | None = None
    held_state: str | None = None
    created_at: datetime = field(default_factory=utc_now)
