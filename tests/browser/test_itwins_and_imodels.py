"""iTwins and iModels in the console: an iTwin created, an empty iModel and one uploaded from a .bim file."""

from __future__ import annotations

from playwright.sync_api import Page, expect

from tests.browser.conftest import USER, Screenshots
from tests.conftest import SAMPLE_IMODELS

BIM_FILE = SAMPLE_IMODELS / "Building Blocks.bim"


def test_an_itwin_created_in_the_console_gets_an_empty_imodel_and_an_uploaded_one(
    signed_in: Page, screenshot: Screenshots
) -> None:
    page = signed_in
    page.goto("/console/#/itwins")
    page.get_by_test_id("itwin-name").fill("Plant in the browser")
    page.get_by_test_id("create-itwin").click()

    expect(page.get_by_test_id("itwin-title")).to_have_text("Plant in the browser")
    # Its creator is its Owner.
    expect(page.get_by_test_id("member-row")).to_have_text([USER])
    expect(page.get_by_test_id("member-role")).to_have_text(["Owner"])
    screenshot(page, "itwin-created")
    itwin_url = page.url

    page.get_by_test_id("imodel-name").fill("Empty model")
    page.get_by_test_id("create-imodel").click()
    expect(page.get_by_test_id("imodel-title")).to_have_text("Empty model")
    expect(page.get_by_test_id("imodel-state")).to_have_text("initialized")
    screenshot(page, "empty-imodel-created")

    page.goto(itwin_url)
    page.get_by_test_id("bim-file-input").set_input_files(BIM_FILE)
    page.get_by_test_id("upload-bim").click()
    expect(page.get_by_test_id("imodel-title")).to_have_text("Building Blocks")
    expect(page.get_by_test_id("imodel-state")).to_have_text("initialized")
    expect(page.get_by_test_id("changeset-row").first).to_be_visible()
    screenshot(page, "bim-uploaded")

    page.goto(itwin_url)
    rows = page.get_by_test_id("imodel-row")
    expect(rows).to_have_count(2)
    expect(rows.filter(has_text="Building Blocks")).to_have_count(1)
    expect(rows.filter(has_text="Empty model")).to_have_count(1)
    page.goto("/console/#/itwins")
    expect(page.get_by_test_id("itwin-row").filter(has_text="Plant in the browser")).to_have_count(1)
    screenshot(page, "itwins-listed")
