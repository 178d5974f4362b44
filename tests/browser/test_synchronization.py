"""Synchronization in the console: an IFC file uploaded, a storage connection, runs and their reports."""

from __future__ import annotations

from pathlib import Path

from playwright.sync_api import Page, expect

from tests.browser.conftest import Screenshots
from tests.browser.steps import number_in, watch_run
from tests.conftest import SAMPLE_IFC
from twinbridge.testing.client import TwinbridgeClient
from twinbridge.testing.server import TwinbridgeServer

# A small public sample: a wall with a window, a few elements, synchronized in seconds.
IFC_FILE = SAMPLE_IFC / "pass-sps005-250612_wall_with_window.ifc"


def test_an_uploaded_ifc_file_is_synchronized_and_its_new_content_updates_the_imodel(
    signed_in: Page,
    api: TwinbridgeClient,
    console_server: TwinbridgeServer,
    screenshot: Screenshots,
    tmp_path: Path,
) -> None:
    page = signed_in
    itwin_id = api.create_itwin("Synchronization in the browser")["id"]
    imodel_id = console_server.import_imodel(itwin_id, name="From IFC")

    page.goto(f"/console/#/imodels/{imodel_id}/synchronization")
    page.get_by_test_id("ifc-file-input").set_input_files(IFC_FILE)
    page.get_by_test_id("upload-ifc").click()
    expect(page.get_by_test_id("storage-file-row")).to_have_text([IFC_FILE.name])
    # The uploaded file is ticked for the new connection.
    expect(page.get_by_test_id("choose-file")).to_be_checked()
    screenshot(page, "file-uploaded")

    page.get_by_test_id("storage-connection-connector").select_option("IFC")
    page.get_by_test_id("create-storage-connection").click()
    expect(page.get_by_test_id("storage-connection-created")).to_be_visible()
    expect(page.get_by_test_id("storage-connection-row")).to_have_count(1)
    page.get_by_test_id("start-sync-run").click()
    screenshot(page, "run-started")
    page.get_by_test_id("sync-run-link").click()

    states = watch_run(page)
    assert states[-1] == "Completed · Success", states

    # The run page shows each file's diagnostic report once the run has completed.
    report = page.get_by_test_id("report")
    expect(report).to_have_count(1)
    expect(report.locator("h3")).to_contain_text(IFC_FILE.name)
    # The file's three products: a wall, its window and the window's opening.
    assert number_in(page, "report-inserted") == 3
    report.scroll_into_view_if_needed()
    screenshot(page, "report")

    # New content in the same storage file (the wall renamed), and a second run of the connection.
    connection_id = page.url.split("#/synchronization/runs/")[1].split("/")[0]
    changed = tmp_path / IFC_FILE.name
    changed.write_text(IFC_FILE.read_text().replace("'Basic Wall:Wall-Fnd_440Blk:313185'", "'Renamed wall'"))
    page.goto(f"/console/#/synchronization/storage/{connection_id}")
    page.get_by_test_id("update-file-input").set_input_files(changed)
    page.get_by_test_id("update-file").click()
    expect(page.get_by_test_id("file-updated")).to_be_visible()
    page.get_by_test_id("start-sync-run").click()
    screenshot(page, "file-updated")
    page.get_by_test_id("sync-run-link").click()

    states = watch_run(page)
    assert states[-1] == "Completed · Success", states
    expect(page.get_by_test_id("report")).to_have_count(1)
    # The wall is updated in place, the window and the opening are as they were; nothing is added twice.
    counts = {name: number_in(page, f"report-{name}") for name in ("inserted", "updated", "unchanged")}
    assert counts == {"inserted": 0, "updated": 1, "unchanged": 2}
    page.get_by_test_id("report").scroll_into_view_if_needed()
    screenshot(page, "second-report")
