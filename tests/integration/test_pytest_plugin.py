"""The pytest plugin as another project uses it: tests/plugin_project, copied out and run by its own pytest.

The inner pytest is this virtual environment's, where twinbridge is installed, so it finds the plugin through
its `pytest11` entry point as any project that installed twinbridge would.
"""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import xml.etree.ElementTree as ElementTree
from pathlib import Path

import pytest

REPOSITORY = Path(__file__).resolve().parents[2]
PROJECT = REPOSITORY / "tests" / "plugin_project"
README_SECTION = "## Testing your integration with the pytest plugin"
BLOCK = re.compile(r"```(ini|python)\n(.*?)```", re.DOTALL)
PLUGIN_FIXTURE = re.compile(r"^(\w+)(?: \[\w+ scope\])? -- .*twinbridge/testing/pytest_plugin\.py:\d+$")


def _project(tmp_path: Path) -> Path:
    copy = tmp_path / "project"
    shutil.copytree(PROJECT, copy, ignore=shutil.ignore_patterns("__pycache__", ".pytest_cache"))
    return copy


def _pytest(project: Path, *arguments: str) -> subprocess.CompletedProcess[str]:
    """`python -m pytest` in the project, in an environment without this test run's own settings."""
    environment = {
        key: value
        for key, value in os.environ.items()
        if not key.startswith(("TWINBRIDGE_", "PYTEST_")) and key != "PYTHONPATH"
    }
    return subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", *arguments],
        cwd=project,
        env=environment,
        capture_output=True,
        text=True,
        timeout=600,
    )


def _outcomes(report: Path) -> dict[str, str]:
    """Test name -> passed, failed, error or skipped, from a JUnit XML report."""
    outcomes = {}
    for case in ElementTree.parse(report).getroot().iter("testcase"):
        kinds = [child.tag for child in case if child.tag in {"failure", "error", "skipped"}]
        outcomes[case.attrib["name"]] = {"failure": "failed"}.get(kinds[0], kinds[0]) if kinds else "passed"
    return outcomes


@pytest.mark.e2e
def test_a_project_of_its_own_passes_its_tests_with_the_plugins_fixtures(tmp_path: Path) -> None:
    project = _project(tmp_path)
    done = _pytest(project, "-q", f"--junitxml={tmp_path / 'report.xml'}", f"--basetemp={tmp_path / 'base'}")
    assert _outcomes(tmp_path / "report.xml") == {
        "test_the_itwin_fixture_is_an_itwin_of_the_test_user": "passed",
        "test_the_sample_imodel_is_listed_in_its_itwin_for_the_service_client": "passed",
        "test_an_export_run_completes_in_scripted_mode": "passed",
        "test_a_scripted_run_is_held_executing_until_the_test_releases_it": "passed",
        "test_a_snapshot_brings_back_what_the_test_deleted": "passed",
        "test_a_fault_answers_the_client_once_and_the_journal_shows_both_answers": "passed",
        "test_a_test_leaves_an_itwin_and_a_held_run_behind": "passed",
        "test_the_next_test_starts_from_an_empty_server": "passed",
    }, done.stdout + done.stderr
    assert done.returncode == 0


@pytest.mark.e2e
def test_the_readme_example_passes_as_written(tmp_path: Path) -> None:
    text = (REPOSITORY / "README.md").read_text()
    section = text[text.index(README_SECTION) :]
    section = section[: section.index("\n## ")]
    blocks = dict(match.groups() for match in BLOCK.finditer(section))
    project = tmp_path / "example"
    project.mkdir()
    (project / "pytest.ini").write_text(blocks["ini"])
    (project / "test_my_integration.py").write_text(blocks["python"])
    done = _pytest(project, "-q", f"--junitxml={tmp_path / 'report.xml'}", f"--basetemp={tmp_path / 'base'}")
    assert _outcomes(tmp_path / "report.xml") == {
        "test_an_export_run_completes": "passed",
        "test_my_client_lists_the_imodels": "passed",
        "test_each_test_starts_from_an_empty_server": "passed",
    }, done.stdout + done.stderr


@pytest.mark.e2e
def test_a_test_that_uses_no_twinbridge_fixture_starts_no_server(tmp_path: Path) -> None:
    project = _project(tmp_path)
    (project / "test_plain.py").write_text("def test_plain():\n    assert True\n")
    # Without the ini's `usefixtures = twinbridge_reset`, nothing of the plugin's is used.
    done = _pytest(project, "-q", "-o", "usefixtures=", f"--basetemp={tmp_path / 'base'}", "test_plain.py")
    assert done.returncode == 0, done.stdout + done.stderr
    assert "1 passed" in done.stdout
    assert not list((tmp_path / "base").glob("twinbridge*"))


def test_every_fixture_of_the_plugin_is_named_after_twinbridge(tmp_path: Path) -> None:
    """So that none clashes with a project's own fixtures (this repository's `client`, `settings`, ...)."""
    done = _pytest(_project(tmp_path), "--fixtures", "-q")
    assert done.returncode == 0, done.stdout + done.stderr
    names = {match.group(1) for line in done.stdout.splitlines() if (match := PLUGIN_FIXTURE.match(line))}
    assert {"twinbridge_server", "twinbridge_client", "twinbridge_itwin", "twinbridge_reset"} <= names
    assert all(name.startswith("twinbridge_") for name in names), names


def test_the_plugin_is_loaded_in_this_run_through_its_entry_point(request: pytest.FixtureRequest) -> None:
    plugin = request.config.pluginmanager.get_plugin("twinbridge")
    assert plugin is not None
    assert plugin.__name__ == "twinbridge.testing.pytest_plugin"
