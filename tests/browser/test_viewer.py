"""The console's 3D viewer: an IFC file from storage, an iModel version through the Export API, errors."""

from __future__ import annotations

import re
from collections.abc import Callable
from pathlib import Path

import httpx
from playwright.sync_api import Page, expect

from tests.browser.steps import assert_model_drawn, select_an_element
from tests.conftest import SAMPLE_IFC, SAMPLE_IMODELS
from twinbridge.testing.client import TwinbridgeClient
from twinbridge.testing.errors import expect as expect_status
from twinbridge.testing.server import TwinbridgeServer

Screenshot = Callable[[Page, str], Path]
WALL_WITH_WINDOW = SAMPLE_IFC / "pass-sps005-250612_wall_with_window.ifc"


def stored_file(api: TwinbridgeClient, itwin_id: str, path: Path) -> str:
    """The Storage API's create, upload and complete; the file's id."""
    folder = expect_status(api.get("/storage/", params={"iTwinId": itwin_id}), 200).json()["_links"]["folder"]
    links = expect_status(api.post(f"{folder['href']}/files", json={"displayName": path.name}), 202).json()
    # The upload URL is signed: it takes no token, as a SAS URL.
    expect_status(httpx.put(links["_links"]["uploadUrl"]["href"], content=path.read_bytes()), 201)
    completed = expect_status(api.post(links["_links"]["completeUrl"]["href"]), 200)
    return str(completed.json()["file"]["id"])


def test_an_ifc_file_in_storage_is_drawn_and_a_click_shows_the_elements_property_sets(
    signed_in: Page, api: TwinbridgeClient, screenshot: Screenshot
) -> None:
    page = signed_in
    file_id = stored_file(api, api.create_itwin("Viewer")["id"], WALL_WITH_WINDOW)

    page.goto(f"/console/#/view/ifc?file={file_id}")
    expect(page.get_by_role("heading", level=1)).to_contain_text(WALL_WITH_WINDOW.name)
    assert assert_model_drawn(page) >= 2  # the wall and its window
    screenshot(page, "file-drawn")

    select_an_element(page)
    properties = page.get_by_test_id("element-properties")
    expect(properties.get_by_test_id("element-name")).not_to_be_empty()
    expect(properties.get_by_test_id("property-group").first).to_be_visible()
    screenshot(page, "element-selected")

    page.get_by_test_id("viewer-fit").click()
    assert page.evaluate("window.__twinbridgeViewer.state") == "ready"


def test_an_imodel_version_is_exported_on_first_view_and_the_export_is_reused_on_the_next(
    signed_in: Page, api: TwinbridgeClient, console_server: TwinbridgeServer, screenshot: Screenshot
) -> None:
    page = signed_in
    itwin_id = api.create_itwin("Viewer of versions")["id"]
    imodel_id = console_server.import_imodel(itwin_id, SAMPLE_IMODELS / "Building Blocks.bim", "Blocks")

    page.goto(f"/console/#/view/imodel/{imodel_id}")
    count = assert_model_drawn(page)
    run_text = page.get_by_test_id("viewer-export-run").inner_text()
    select_an_element(page)
    # The exporter's Tag is the iModel's element id.
    expect(page.get_by_test_id("element-properties")).to_contain_text(
        re.compile(r"Element id \(Tag\)\s*0x[0-9a-f]+")
    )
    screenshot(page, "imodel-drawn")

    page.goto("/console/#/itwins")
    page.goto(f"/console/#/view/imodel/{imodel_id}?changeset=0")
    assert assert_model_drawn(page) == count
    expect(page.get_by_test_id("viewer-export-run")).to_have_text(run_text)
    connections = api.get("/export/connections", params={"imodelId": imodel_id}).json()["connections"]
    assert [connection["displayName"] for connection in connections] == ["Console view · changeset 0"]
    runs = api.get(f"/export/connections/{connections[0]['id']}/runs").json()["runs"]
    assert len(runs) == 1


def test_a_file_that_does_not_exist_shows_the_servers_error_in_words(signed_in: Page) -> None:
    page = signed_in
    page.goto("/console/#/view/ifc?file=no-such-file")
    expect(page.get_by_role("alert")).to_contain_text("FileNotFound")
    expect(page.get_by_test_id("element-count")).to_have_text("none")


def test_a_version_the_imodel_does_not_have_is_named_in_the_error(
    signed_in: Page, api: TwinbridgeClient, console_server: TwinbridgeServer
) -> None:
    page = signed_in
    imodel_id = console_server.import_imodel(api.create_itwin("No such version")["id"])
    page.goto(f"/console/#/view/imodel/{imodel_id}?changeset=7")
    expect(page.get_by_role("alert")).to_contain_text("ChangesetNotFound")


def test_a_synchronized_version_is_exported_by_its_changeset_and_the_baseline_is_explained(
    signed_in: Page, api: TwinbridgeClient, console_server: TwinbridgeServer
) -> None:
    page = signed_in
    itwin_id = api.create_itwin("Synchronized versions")["id"]
    imodel_id = console_server.import_imodel(itwin_id)
    file_id = stored_file(api, itwin_id, WALL_WITH_WINDOW)
    created = api.post(
        "/synchronization/imodels/storageconnections",
        json={"iModelId": imodel_id, "sourceFiles": [{"storageFileId": file_id, "connectorType": "IFC"}]},
    )
    connection_id = expect_status(created, 201).json()["connection"]["id"]
    started = api.post(f"/synchronization/imodels/storageconnections/{connection_id}/run")
    assert (
        api.wait_for_run(expect_status(started, 202).headers["location"], timeout=180)["result"] == "Success"
    )

    page.goto(f"/console/#/view/imodel/{imodel_id}?changeset=1")
    assert assert_model_drawn(page) >= 2
    expect(page.get_by_role("heading", level=1)).to_contain_text("changeset 1")
    connections = api.get("/export/connections", params={"imodelId": imodel_id}).json()["connections"]
    assert [connection["displayName"] for connection in connections] == ["Console view · changeset 1"]

    page.goto(f"/console/#/view/imodel/{imodel_id}?changeset=0")
    expect(page.get_by_role("alert")).to_contain_text("baseline")
