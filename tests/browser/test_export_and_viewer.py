"""Exports in the console: a run watched to Completed and its IFC output drawn in 3D; a task error."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import Screenshots
from tests.browser.steps import assert_model_drawn, select_an_element, watch_run
from tests.conftest import SAMPLE_IMODELS
from twinbridge.testing.client import TwinbridgeClient
from twinbridge.testing.server import TwinbridgeServer

BUILDING_BLOCKS = SAMPLE_IMODELS / "Building Blocks.bim"
# Its physical elements, each an IfcBuildingElementProxy with geometry in the exported file.
BUILDING_BLOCKS_ELEMENTS = 173


def test_an_export_runs_to_completed_and_its_output_is_drawn_in_3d(
    signed_in: Page, api: TwinbridgeClient, console_server: TwinbridgeServer, screenshot: Screenshots
) -> None:
    page = signed_in
    itwin_id = api.create_itwin("Export in the browser")["id"]
    imodel_id = console_server.import_imodel(itwin_id, BUILDING_BLOCKS, "Building Blocks")

    page.goto(f"/console/#/imodels/{imodel_id}/export")
    page.get_by_test_id("create-export-connection").click()
    expect(page.get_by_test_id("export-connection-created")).to_be_visible()
    expect(page.get_by_test_id("export-connection-row")).to_have_count(1)
    connection_href = page.get_by_test_id("export-connection-row").get_attribute("href") or ""
    connection_id = connection_href.rsplit("/", 1)[-1]
    # The run's engine crashes once and the retry waits until released: the page must show that state
    # change, and the next ones, however fast the machine runs the export.
    console_server.control.add_script(
        {"engineFault": "crash", "connectionId": connection_id, "count": 1, "holdRetry": True}
    )
    page.get_by_test_id("export-ifc-version").select_option("IFC4.3")
    screenshot(page, "connection-created")
    page.get_by_test_id("start-export-run").click()
    page.get_by_test_id("export-run-link").click()

    states = watch_run(page, until="WaitingToRetry")
    screenshot(page, "run-waiting-to-retry")
    console_server.control.release_hold(page.url.rsplit("/", 1)[-1])
    watch_run(page, seen=states)
    assert "WaitingToRetry" in states
    assert states[-1] == "Completed · Success", states
    screenshot(page, "run-completed", readme="console-runs.png")

    page.get_by_test_id("view-output").first.click()
    assert assert_model_drawn(page) == BUILDING_BLOCKS_ELEMENTS
    screenshot(page, "model-drawn")
    select_an_element(page)
    screenshot(page, "element-selected", readme="console-viewer.png")


def test_a_failed_export_shows_its_task_error_in_words(
    signed_in: Page, api: TwinbridgeClient, console_server: TwinbridgeServer, screenshot: Screenshots
) -> None:
    page = signed_in
    itwin_id = api.create_itwin("Failed export")["id"]
    imodel_id = console_server.import_imodel(itwin_id, BUILDING_BLOCKS, "Building Blocks")

    page.goto(f"/console/#/imodels/{imodel_id}/export")
    page.get_by_test_id("create-export-connection").click()
    # A saved view this server cannot apply: the run ends before it writes anything.
    page.get_by_test_id("export-saved-view").fill("no-such-view")
    page.get_by_test_id("start-export-run").click()
    page.get_by_test_id("export-run-link").click()

    states = watch_run(page)
    assert states[-1] == "Completed · Error", states
    error = page.get_by_test_id("task-error")
    expect(error).to_contain_text("savedViewId 'no-such-view' cannot be applied")
    # Whether the user can fix it, in words, besides the code.
    expect(error).to_contain_text(re.compile(r"Can you fix it\?\s*Yes"))
    expect(error).to_contain_text("SavedViewNotSupported")
    expect(page.get_by_test_id("view-output")).to_have_count(0)
    screenshot(page, "task-error")
