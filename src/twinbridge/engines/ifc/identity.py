"""Deterministic IFC GlobalIds, so that exporting the same iModel twice gives the same ids.

Elements use their FederationGuid (stable across iModel versions and shared with other tools); elements
without one, and the entities twinbridge invents (project, site, storeys, relationships), get a name-based
UUID (version 5) in the namespace of the iModel's own GUID.
"""

from __future__ import annotations

import uuid

import ifcopenshell.guid


def compress_uuid(value: uuid.UUID) -> str:
    """The 22-character IFC spelling of a UUID."""
    compressed: str = ifcopenshell.guid.compress(value.hex)
    return compressed


def derived_uuid(imodel_guid: uuid.UUID, key: str) -> uuid.UUID:
    return uuid.uuid5(imodel_guid, key)


def element_uuid(federation_guid: str | None, element_id: int, imodel_guid: uuid.UUID) -> uuid.UUID:
    """The UUID behind an element's GlobalId; a malformed FederationGuid counts as absent."""
    if federation_guid:
        try:
            return uuid.UUID(federation_guid)
        except ValueError:
            pass
    return derived_uuid(imodel_guid, f"element:0x{element_id:x}")


def element_global_id(federation_guid: str | None, element_id: int, imodel_guid: uuid.UUID) -> str:
    return compress_uuid(element_uuid(federation_guid, element_id, imodel_guid))


def derived_global_id(imodel_guid: uuid.UUID, key: str) -> str:
    return compress_uuid(derived_uuid(imodel_guid, key))
