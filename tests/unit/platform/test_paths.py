from __future__ import annotations

from twinbridge.platform.paths import canonical_query, normalize_path


def test_fixed_words_are_lowercased_and_ids_kept() -> None:
    path = "/synchronization/imodels/storageConnections/AbC-dEf/sourceFiles/XyZ"
    assert normalize_path(path) == "/synchronization/imodels/storageconnections/AbC-dEf/sourcefiles/XyZ"


def test_authorization_information_of_older_clients_is_routed() -> None:
    assert (
        normalize_path("/synchronization/imodels/connections/authorizationInformation")
        == "/synchronization/imodels/connections/authorizationinformation"
    )


def test_a_trailing_slash_is_the_same_path_without_it() -> None:
    assert normalize_path("/itwins/") == "/itwins"
    assert normalize_path("/Export/Connections//") == "/export/connections"
    assert normalize_path("/") == "/"


def test_query_names_in_any_case_take_the_spelling_the_operations_read() -> None:
    names = {"imodelid": "imodelId", "itwinid": "iTwinId", "$top": "$top"}
    assert canonical_query(b"iModelId=A&%24TOP=5&other=x", names) == b"imodelId=A&$top=5&other=x"
    assert canonical_query(b"itwinid=Abc", names) == b"iTwinId=Abc"


def test_a_query_already_spelled_as_read_is_left_as_it_is() -> None:
    query = b"imodelId=A&&$top=5&flag"
    assert canonical_query(query, {"imodelid": "imodelId", "$top": "$top"}) is query
