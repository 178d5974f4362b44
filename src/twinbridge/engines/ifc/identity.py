"""Deterministic IFC GlobalIds, so that exporting the same iModel twice gives the same ids.

Elements use their FederationGuid (stable across iModel versions and shared with other tools); elements
without one, and the entities twinbridge invents (project, site, storeys, relationships), get a name-based
UUID (version 5) in the namespace of the iModel's own GUID.
"""

from __future__ import annotations

import base64
import hashlib
import uuid

# The IFC spelling is the 128-bit number in base 64 (22 digits) with its own alphabet. Encoding it as 18 bytes
# with the standard base64 codec and translating the alphabet gives the same text as
# ifcopenshell.guid.compress at a tenth of its cost (an export makes two ids per property set).
_TO_IFC_ALPHABET = bytes.maketrans(
    b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/",
    b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz_$",
)


def _compress_int(value: int) -> str:
    # 18 bytes = 24 base64 digits; the first 2 are the 16 leading zero bits.
    return base64.b64encode(value.to_bytes(18, "big"))[2:].translate(_TO_IFC_ALPHABET).decode("ascii")


def compress_uuid(value: uuid.UUID) -> str:
    """The 22-character IFC spelling of a UUID."""
    return _compress_int(value.int)


def derived_uuid(imodel_guid: uuid.UUID, key: str) -> uuid.UUID:
    return uuid.uuid5(imodel_guid, key)


def _derived_int(imodel_guid: uuid.UUID, key: str) -> int:
    """`uuid.uuid5(imodel_guid, key).int` without building UUID objects."""
    number = int.from_bytes(hashlib.sha1(imodel_guid.bytes + key.encode("utf-8")).digest()[:16], "big")
    number = (number & ~(0xC000 << 48)) | (0x8000 << 48)  # RFC 4122 variant
    return (number & ~(0xF000 << 64)) | (5 << 76)  # version 5


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
    return _compress_int(_derived_int(imodel_guid, key))
