"""All SQL of iModels and their versions."""

from __future__ import annotations

from sqlalchemy import delete, select
from sqlalchemy.ext.asyncio import AsyncSession

from twinbridge.db.models import IModel, IModelVersion


class IModelRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def add(self, imodel: IModel) -> IModel:
        self.session.add(imodel)
        await self.session.flush()
        return imodel

    async def get(self, imodel_id: str) -> IModel | None:
        return await self.session.get(IModel, imodel_id)

    async def get_by_upload_token(self, imodel_id: str, token: str) -> IModel | None:
        statement = select(IModel).where(IModel.id == imodel_id, IModel.baseline_upload_token == token)
        return await self.session.scalar(statement)

    async def name_taken(self, itwin_id: str, name: str) -> bool:
        statement = select(IModel.id).where(IModel.itwin_id == itwin_id, IModel.name == name)
        return await self.session.scalar(statement) is not None

    async def list_in_itwin(self, itwin_id: str, offset: int, limit: int) -> list[IModel]:
        statement = (
            select(IModel)
            .where(IModel.itwin_id == itwin_id)
            .order_by(IModel.created_at, IModel.id)
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.scalars(statement)).all())

    async def add_version(self, version: IModelVersion) -> IModelVersion:
        self.session.add(version)
        await self.session.flush()
        return version

    async def latest_version(self, imodel_id: str) -> IModelVersion | None:
        statement = (
            select(IModelVersion)
            .where(IModelVersion.imodel_id == imodel_id)
            .order_by(IModelVersion.changeset_index.desc())
            .limit(1)
        )
        return await self.session.scalar(statement)

    async def list_versions(
        self, imodel_id: str, offset: int = 0, limit: int | None = None
    ) -> list[IModelVersion]:
        statement = (
            select(IModelVersion)
            .where(IModelVersion.imodel_id == imodel_id)
            .order_by(IModelVersion.changeset_index)
            .offset(offset)
            .limit(limit)
        )
        return list((await self.session.scalars(statement)).all())

    async def delete(self, imodel: IModel) -> None:
        await self.session.execute(delete(IModelVersion).where(IModelVersion.imodel_id == imodel.id))
        await self.session.delete(imodel)
        await self.session.flush()
