"""A synchronization in the console: an IFC file uploaded, a storage connection, a run, and its report."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import Screenshots
from tests.browser.steps import number_in, watch_run_until_completed
from tests.conftest import SAMPLE_IFC
from twinbridge.testing.client import TwinbridgeClient
from twinbridge.testing.server import TwinbridgeServer

# A small public sample: a wall with a window, a few elements, synchronized in seconds.
IFC_FILE = SAMPLE_IFC / "pass-sps005-250612_wall_with_window.ifc"


def test_an_uploaded_ifc_file_is_synchronized_and_its_report_counts_inserted_elements(
    signed_in: Page, api: TwinbridgeClient, console_server: TwinbridgeServer, screenshot: Screenshots
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

    states = watch_run_until_completed(page)
    assert states[-1] == "Completed · Success", states

    # The run page shows each file's diagnostic report once the run has completed.
    report = page.get_by_test_id("report")
    expect(report).to_have_count(1)
    expect(report.locator("h3")).to_contain_text(IFC_FILE.name)
    assert number_in(page, "report-inserted") > 0
    report.scroll_into_view_if_needed()
    screenshot(page, "report")
