"""Every table, imported here so that Base.metadata knows them all (Alembic compares against it)."""

from twinbridge.db.models.imodel import IModel, IModelVersion
from twinbridge.db.models.itwin import ITwin, ITwinMember
from twinbridge.db.models.service_client import ServiceClient

__all__ = ["IModel", "IModelVersion", "ITwin", "ITwinMember", "ServiceClient"]
