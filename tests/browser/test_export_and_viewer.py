"""An export in the console: a connection, a run watched to Completed, and its IFC output in the 3D view."""

from __future__ import annotations

import re

from playwright.sync_api import Page, expect

from tests.browser.conftest import Screenshots, drawn_share
from tests.browser.steps import number_in, watch_run_until_completed
from tests.conftest import SAMPLE_IMODELS
from twinbridge.testing.client import TwinbridgeClient
from twinbridge.testing.server import TwinbridgeServer


def test_an_export_runs_to_completed_and_its_output_is_drawn_in_3d(
    signed_in: Page, api: TwinbridgeClient, console_server: TwinbridgeServer, screenshot: Screenshots
) -> None:
    page = signed_in
    itwin_id = api.create_itwin("Export in the browser")["id"]
    imodel_id = console_server.import_imodel(
        itwin_id, SAMPLE_IMODELS / "Building Blocks.bim", "Building Blocks"
    )

    page.goto(f"/console/#/imodels/{imodel_id}/export")
    page.get_by_test_id("create-export-connection").click()
    expect(page.get_by_test_id("export-connection-created")).to_be_visible()
    expect(page.get_by_test_id("export-connection-row")).to_have_count(1)
    page.get_by_test_id("export-ifc-version").select_option("IFC4.3")
    screenshot(page, "connection-created")
    page.get_by_test_id("start-export-run").click()
    page.get_by_test_id("export-run-link").click()

    states = watch_run_until_completed(page)
    assert states[-1] == "Completed · Success", states
    assert len(states) > 1, f"the page showed the run only once it had completed: {states}"
    screenshot(page, "run-completed", readme="console-runs.png")

    page.get_by_test_id("view-output").first.click()
    canvas = page.get_by_test_id("viewer-canvas")
    assert number_in(page, "element-count") > 0
    expect(canvas).to_be_visible()
    box = canvas.bounding_box()
    assert box
    assert box["width"] >= 400, f"the canvas is too small to see: {box}"
    assert box["height"] >= 300, f"the canvas is too small to see: {box}"
    page.wait_for_timeout(500)  # the first frames after the model loaded
    share = drawn_share(page, canvas.screenshot())
    assert share > 0.01, f"the canvas is blank ({share:.2%} of its pixels differ from its background)"
    screenshot(page, "model-drawn")

    select_an_element(page)
    expect(page.get_by_test_id("element-class")).to_have_text(re.compile(r"^Ifc\w+$"))
    # An IFC GlobalId: 22 characters of IFC's base-64 alphabet.
    expect(page.get_by_test_id("element-globalid")).to_have_text(re.compile(r"^[0-9A-Za-z_$]{22}$"))
    screenshot(page, "element-selected", readme="console-viewer.png")


def select_an_element(page: Page) -> None:
    """Clicks the canvas, from its centre outwards, until a click selects an element."""
    canvas = page.get_by_test_id("viewer-canvas")
    box = canvas.bounding_box()
    assert box
    selected = page.get_by_test_id("element-properties").get_by_test_id("element-globalid")
    for fraction_x, fraction_y in [(0.5, 0.5)] + [
        (x / 8, y / 8)
        for radius in (1, 2, 3)
        for x in range(4 - radius, 5 + radius)
        for y in (4 - radius, 4 + radius)
    ]:
        canvas.click(position={"x": box["width"] * fraction_x, "y": box["height"] * fraction_y})
        try:
            expect(selected).to_be_visible(timeout=1_500)
        except AssertionError:
            continue
        return
    raise AssertionError("no click on the canvas selected an element")
