"""`twinbridge convert`: offline iModel -> IFC with a progress bar and a one-line summary.

cli.py only declares the command; the work is here so that the CLI module stays free of engine imports.
"""

from __future__ import annotations

import logging
import sys
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TaskID, TextColumn, TimeElapsedColumn
from rich.text import Text

from twinbridge.engines.ifc.errors import IfcExportError
from twinbridge.engines.ifc.exporter import ExportSummary, ProgressCallback, export_imodel_to_ifc
from twinbridge.engines.imodel.errors import EngineError

_PHASE_LABELS = {
    "graphics": "Exporting elements",
    "writing": "Writing IFC file",
}


def convert(
    source: Path,
    destination: Path,
    *,
    ifc_version: str | None,
    model_ids: Sequence[str] | None,
    mapping: Path | None,
) -> int:
    """Run one conversion for the CLI; returns the exit code (errors are one line on stderr)."""
    console = Console(stderr=True)
    # Engine warnings (a bounding-box fallback) are worth seeing; library chatter is not.
    logging.basicConfig(level=logging.WARNING, format="%(levelname)s: %(message)s", stream=sys.stderr)
    try:
        with _progress_reporter(console) as report:
            summary = export_imodel_to_ifc(
                source,
                destination,
                ifc_version=ifc_version,
                model_ids=model_ids,
                mapping=mapping,
                progress=report,
            )
    except (IfcExportError, EngineError) as problem:
        return _fail(console, _one_line(problem))
    except OSError as problem:
        return _fail(console, f"cannot write {destination}: {problem.strerror or problem}")
    except Exception as problem:
        # A bug or an input nobody anticipated: still one line for the user, the traceback for debugging.
        logging.getLogger(__name__).debug("conversion failed", exc_info=True)
        return _fail(console, f"conversion failed ({type(problem).__name__}): {_one_line(problem)}")
    # What the target schema could not hold, per element (the first 20 of each kind), before the summary.
    for line in summary.entity_substitutions[:20] + summary.not_carried[:20]:
        console.print(Text(f"warning: {line}"), soft_wrap=True)
    console.print(Text(_summary_line(summary)), soft_wrap=True)
    return 0


def _fail(console: Console, message: str) -> int:
    console.print(Text.assemble(("error: ", "red"), message), soft_wrap=True)
    return 1


def _one_line(problem: Exception) -> str:
    message = problem.message if isinstance(problem, EngineError) else str(problem)
    return " ".join(message.split())


def _summary_line(summary: ExportSummary) -> str:
    fallbacks = (
        f", {summary.bounding_box_fallbacks} as bounding boxes" if summary.bounding_box_fallbacks else ""
    )
    substitutions = (
        f", {len(summary.entity_substitutions)} as a more general class (see docs/ifc-export.md)"
        if summary.entity_substitutions
        else ""
    )
    not_carried = (
        f", {len(summary.not_carried)} things the schema cannot hold left out (see docs/ifc-export.md)"
        if summary.not_carried
        else ""
    )
    return (
        f"{summary.output}: {summary.elements} elements, {summary.triangles} triangles{fallbacks}"
        f"{substitutions}{not_carried}, "
        f"{summary.ifc_version} ({summary.schema}), {summary.seconds:.1f} s"
    )


@contextmanager
def _progress_reporter(console: Console) -> Iterator[ProgressCallback | None]:
    """A rich progress bar on a terminal; nothing when stderr is a pipe or a file."""
    if not console.is_terminal:
        yield None
        return
    columns = (
        TextColumn("{task.description:<20}"),
        BarColumn(),
        MofNCompleteColumn(),
        TimeElapsedColumn(),
    )
    with Progress(*columns, console=console, transient=True) as progress:
        tasks: dict[str, TaskID] = {}

        def report(phase: str, done: int, total: int) -> None:
            if phase not in tasks:
                tasks[phase] = progress.add_task(_PHASE_LABELS.get(phase, phase), total=total or None)
            progress.update(tasks[phase], completed=done, total=total or None)

        yield report
