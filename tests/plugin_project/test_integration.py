"""What an iTwin integration's own tests look like with twinbridge's pytest plugin (see pytest.ini)."""

from typing import Any

from twinbridge.testing.client import TwinbridgeClient
from twinbridge.testing.control import ControlApi


def test_the_itwin_fixture_is_an_itwin_of_the_test_user(
    twinbridge_client: TwinbridgeClient, twinbridge_itwin: dict[str, Any]
) -> None:
    listed = twinbridge_client.get("/itwins").json()["iTwins"]
    assert [itwin["id"] for itwin in listed] == [twinbridge_itwin["id"]]
    members = twinbridge_client.get(f"/itwins/{twinbridge_itwin['id']}/members").json()["members"]
    assert {(member["subject"], member["role"]) for member in members} >= {
        ("twinbridge-test-user", "Owner"),
        ("twinbridge-test-service", "Contributor"),
    }


def test_the_sample_imodel_is_listed_in_its_itwin_for_the_service_client(
    twinbridge_service_client: TwinbridgeClient, twinbridge_imodel: dict[str, Any]
) -> None:
    response = twinbridge_service_client.get(
        "/imodels", params={"iTwinId": twinbridge_imodel["iTwinId"]}, headers={"Prefer": "return=minimal"}
    )
    assert response.status_code == 200
    assert [(imodel["id"], imodel["displayName"]) for imodel in response.json()["iModels"]] == [
        (twinbridge_imodel["id"], "Sample iModel")
    ]


def test_an_export_run_completes_in_scripted_mode(
    twinbridge_client: TwinbridgeClient, twinbridge_imodel: dict[str, Any]
) -> None:
    run_url = twinbridge_client.start_export_run(twinbridge_imodel["id"])
    run = twinbridge_client.wait_for_run(run_url, timeout=30)
    assert (run["state"], run["result"]) == ("Completed", "Success")
    assert run_url.endswith(f"/runs/{run['id']}")


def test_a_scripted_run_is_held_executing_until_the_test_releases_it(
    twinbridge_client: TwinbridgeClient, twinbridge_control: ControlApi, twinbridge_imodel: dict[str, Any]
) -> None:
    twinbridge_control.add_script(
        {
            "iModelId": twinbridge_imodel["id"],
            "steps": [{"state": "Executing", "hold": True}],
            "result": "PartialSuccess",
        }
    )
    run_url = twinbridge_client.start_export_run(twinbridge_imodel["id"])
    run_id = run_url.rsplit("/", 1)[1]
    assert twinbridge_control.wait_until_held(run_id)["state"] == "Executing"
    assert twinbridge_client.get(run_url).json()["run"]["state"] == "Executing"
    twinbridge_control.release_hold(run_id)
    assert twinbridge_client.wait_for_run(run_url, timeout=30)["result"] == "PartialSuccess"


def test_a_snapshot_brings_back_what_the_test_deleted(
    twinbridge_client: TwinbridgeClient, twinbridge_control: ControlApi, twinbridge_itwin: dict[str, Any]
) -> None:
    path = f"/itwins/{twinbridge_itwin['id']}"
    twinbridge_control.save_snapshot("one-itwin")
    assert twinbridge_client.delete(path).status_code == 204
    assert twinbridge_client.get(path).status_code == 404
    twinbridge_control.restore_snapshot("one-itwin")
    assert twinbridge_client.get(path).json()["iTwin"]["displayName"] == twinbridge_itwin["displayName"]
    twinbridge_control.delete_snapshot("one-itwin")


def test_a_fault_answers_the_client_once_and_the_journal_shows_both_answers(
    twinbridge_client: TwinbridgeClient, twinbridge_control: ControlApi, twinbridge_itwin: dict[str, Any]
) -> None:
    path = f"/itwins/{twinbridge_itwin['id']}"
    twinbridge_control.add_fault(
        {"method": "GET", "path": path, "action": "status", "status": 503, "count": 1}
    )
    assert [twinbridge_client.get(path).status_code for _ in range(2)] == [503, 200]
    entries = twinbridge_control.journal(method="GET", path=path)["entries"]
    assert [(entry["status"], entry["answeredByFault"]) for entry in entries] == [(200, False), (503, True)]


def test_a_test_leaves_an_itwin_and_a_held_run_behind(
    twinbridge_client: TwinbridgeClient, twinbridge_control: ControlApi, twinbridge_imodel: dict[str, Any]
) -> None:
    twinbridge_control.add_script(
        {"iModelId": twinbridge_imodel["id"], "steps": [{"state": "Executing", "hold": True}]}
    )
    run_url = twinbridge_client.start_export_run(twinbridge_imodel["id"])
    twinbridge_control.wait_until_held(run_url.rsplit("/", 1)[1])
    assert len(twinbridge_client.get("/itwins").json()["iTwins"]) == 1


def test_the_next_test_starts_from_an_empty_server(
    twinbridge_client: TwinbridgeClient, twinbridge_control: ControlApi
) -> None:
    assert twinbridge_client.get("/itwins").json()["iTwins"] == []
    assert twinbridge_control.holds()["holds"] == []
