"""All SQL of service clients."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from twinbridge.db.models import ServiceClient, UserGrant


class ServiceClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, client_id: str) -> ServiceClient | None:
        return await self.session.get(ServiceClient, client_id)

    async def save(self, client: ServiceClient) -> ServiceClient:
        client = await self.session.merge(client)
        await self.session.flush()
        return client


class UserGrantRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, subject: str) -> UserGrant | None:
        return await self.session.get(UserGrant, subject)

    async def save(self, grant: UserGrant) -> UserGrant:
        grant = await self.session.merge(grant)
        await self.session.flush()
        return grant

    async def delete(self, subject: str) -> None:
        grant = await self.get(subject)
        if grant is not None:
            await self.session.delete(grant)
            await self.session.flush()
