from __future__ import annotations

from twinbridge.platform.paths import normalize_path


def test_fixed_words_are_lowercased_and_ids_kept() -> None:
    path = "/synchronization/imodels/storageConnections/AbC-dEf/sourceFiles/XyZ"
    assert normalize_path(path) == "/synchronization/imodels/storageconnections/AbC-dEf/sourcefiles/XyZ"


def test_authorization_information_of_older_clients_is_routed() -> None:
    assert (
        normalize_path("/synchronization/imodels/connections/authorizationInformation")
        == "/synchronization/imodels/connections/authorizationinformation"
    )
