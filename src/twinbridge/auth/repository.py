"""All SQL of service clients."""

from __future__ import annotations

from sqlalchemy.ext.asyncio import AsyncSession

from twinbridge.db.models import ServiceClient


class ServiceClientRepository:
    def __init__(self, session: AsyncSession) -> None:
        self.session = session

    async def get(self, client_id: str) -> ServiceClient | None:
        return await self.session.get(ServiceClient, client_id)

    async def save(self, client: ServiceClient) -> ServiceClient:
        client = await self.session.merge(client)
        await self.session.flush()
        return client
