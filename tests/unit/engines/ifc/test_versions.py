"""The four ifcVersion values and their schemas and view definitions."""

from __future__ import annotations

import pytest

from twinbridge.engines.ifc.errors import UnknownIfcVersionError
from twinbridge.engines.ifc.versions import resolve_ifc_version


@pytest.mark.parametrize(
    ("name", "schema", "view"),
    [
        ("IFC4.3", "IFC4X3_ADD2", "ReferenceView"),
        ("IFC2x3", "IFC2X3", "CoordinationView"),
        ("IFC2x3 CV 2.0", "IFC2X3", "CoordinationView_V2.0"),
        ("IFC4 RV 1.2", "IFC4", "ReferenceView_V1.2"),
    ],
)
def test_each_version_names_its_schema_and_view_definition(name: str, schema: str, view: str) -> None:
    version = resolve_ifc_version(name)

    assert version.schema == schema
    assert version.file_description == f"ViewDefinition [{view}]"


def test_the_default_is_ifc4_3() -> None:
    assert resolve_ifc_version(None).name == "IFC4.3"


def test_case_and_spacing_are_forgiven() -> None:
    assert resolve_ifc_version("ifc2x3  cv 2.0").name == "IFC2x3 CV 2.0"


def test_an_unknown_version_names_the_choices() -> None:
    with pytest.raises(UnknownIfcVersionError, match=r'unknown IFC version "IFC5".*"IFC4 RV 1.2"'):
        resolve_ifc_version("IFC5")
