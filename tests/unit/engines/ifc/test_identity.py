"""GlobalIds come from FederationGuids, or deterministically from element ids."""

from __future__ import annotations

import uuid

import ifcopenshell.guid

from twinbridge.engines.ifc.identity import derived_global_id, element_global_id

IMODEL = uuid.UUID("213d69e0-9a83-4e3f-942d-694e94c9f905")


def test_global_id_is_the_compressed_federation_guid() -> None:
    guid = "efbd570d-6089-47d2-9f11-e9d96e08dd5b"

    global_id = element_global_id(guid, 0x57, IMODEL)

    assert len(global_id) == 22
    assert uuid.UUID(ifcopenshell.guid.expand(global_id)) == uuid.UUID(guid)


def test_elements_without_federation_guid_get_a_stable_id_per_imodel_and_element() -> None:
    first = element_global_id(None, 0x38, IMODEL)

    assert first == element_global_id(None, 0x38, IMODEL)
    assert first != element_global_id(None, 0x39, IMODEL)
    assert first != element_global_id(None, 0x38, uuid.UUID(int=1))
    assert len(first) == 22


def test_a_malformed_federation_guid_counts_as_absent() -> None:
    assert element_global_id("not-a-guid", 0x38, IMODEL) == element_global_id(None, 0x38, IMODEL)


def test_derived_ids_differ_per_key_and_repeat_per_key() -> None:
    assert derived_global_id(IMODEL, "site") == derived_global_id(IMODEL, "site")
    assert derived_global_id(IMODEL, "site") != derived_global_id(IMODEL, "building")


def test_derived_ids_are_the_compressed_uuid5_of_the_key_as_ifcopenshell_spells_it() -> None:
    for key in ("project", "pset:0x1f:iModelElement", "défini", ""):
        expected = ifcopenshell.guid.compress(uuid.uuid5(IMODEL, key).hex)

        assert derived_global_id(IMODEL, key) == expected


def test_extreme_uuids_compress_as_ifcopenshell_does() -> None:
    for number in (0, 1, 2**127, 2**128 - 1):
        value = uuid.UUID(int=number)

        assert element_global_id(str(value), 1, IMODEL) == ifcopenshell.guid.compress(value.hex)
