"""All SQL of service clients and user grants."""

from __future__ import annotations

from twinbridge.db.database import Transaction
from twinbridge.db.models import ServiceClient, UserGrant
from twinbridge.db.tables import Table

CLIENTS = Table("service_clients", ServiceClient, key=("client_id",))
GRANTS = Table("user_grants", UserGrant, key=("subject",))
_SAVE_GRANT = (
    f"{GRANTS.insert_sql} ON CONFLICT (subject) DO UPDATE SET expires_at = excluded.expires_at,"
    " created_at = excluded.created_at WHERE user_grants.expires_at IS DISTINCT FROM excluded.expires_at"
)


class ServiceClientRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def get(self, client_id: str) -> ServiceClient | None:
        row = await self.transaction.one(CLIENTS.get_sql, {"client_id": client_id})
        return CLIENTS.row(row) if row else None

    async def save(self, client: ServiceClient) -> ServiceClient:
        """Inserts the client, or replaces the one with its id."""
        await self.transaction.execute(CLIENTS.upsert_sql, CLIENTS.values(client))
        return client


class UserGrantRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def get(self, subject: str) -> UserGrant | None:
        row = await self.transaction.one(GRANTS.get_sql, {"subject": subject})
        return GRANTS.row(row) if row else None

    async def save(self, grant: UserGrant) -> UserGrant:
        """Inserts the grant, or changes the expiry of the subject's grant when it differs: a user whose
        token records consent with every run rewrites nothing."""
        await self.transaction.execute(_SAVE_GRANT, GRANTS.values(grant))
        return grant

    async def delete(self, subject: str) -> None:
        await self.transaction.execute(GRANTS.delete_sql, {"subject": subject})
