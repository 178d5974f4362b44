"""The output of a scripted export that names none: a small valid IFC file, written without the engine."""

from __future__ import annotations

from pathlib import Path
from typing import Any, cast


def write_minimal_ifc(path: Path, ifc_version: str | None, project_name: str) -> None:
    """An IFC file of the run's version with a project, its units and a model context, and nothing else
    (IfcOpenShell only: a scripted run starts no engine)."""
    import ifcopenshell
    import ifcopenshell.guid

    from twinbridge.engines.ifc.errors import UnknownIfcVersionError
    from twinbridge.engines.ifc.versions import resolve_ifc_version

    try:
        version = resolve_ifc_version(ifc_version)
    except UnknownIfcVersionError:
        version = resolve_ifc_version(None)
    model = ifcopenshell.file(schema=cast(Any, version.schema))
    owner_history = None
    if version.owner_history:
        person = model.create_entity("IfcPerson", FamilyName="twinbridge")
        organization = model.create_entity("IfcOrganization", Name="twinbridge")
        user = model.create_entity("IfcPersonAndOrganization", ThePerson=person, TheOrganization=organization)
        application = model.create_entity(
            "IfcApplication",
            ApplicationDeveloper=organization,
            Version="1",
            ApplicationFullName="twinbridge",
            ApplicationIdentifier="twinbridge",
        )
        owner_history = model.create_entity(
            "IfcOwnerHistory",
            OwningUser=user,
            OwningApplication=application,
            ChangeAction="ADDED",
            CreationDate=0,
        )
    units = model.create_entity(
        "IfcUnitAssignment",
        Units=[
            model.create_entity("IfcSIUnit", UnitType="LENGTHUNIT", Name="METRE"),
            model.create_entity("IfcSIUnit", UnitType="AREAUNIT", Name="SQUARE_METRE"),
            model.create_entity("IfcSIUnit", UnitType="VOLUMEUNIT", Name="CUBIC_METRE"),
            model.create_entity("IfcSIUnit", UnitType="PLANEANGLEUNIT", Name="RADIAN"),
        ],
    )
    origin = model.create_entity(
        "IfcAxis2Placement3D", Location=model.create_entity("IfcCartesianPoint", Coordinates=(0.0, 0.0, 0.0))
    )
    context = model.create_entity(
        "IfcGeometricRepresentationContext",
        ContextType="Model",
        CoordinateSpaceDimension=3,
        Precision=1e-5,
        WorldCoordinateSystem=origin,
    )
    model.create_entity(
        "IfcProject",
        GlobalId=ifcopenshell.guid.new(),
        OwnerHistory=owner_history,
        Name=project_name,
        RepresentationContexts=[context],
        UnitsInContext=units,
    )
    model.write(str(path))
