"""All SQL of service clients, user grants and interactive sign-in (authorization codes, refresh tokens)."""

from __future__ import annotations

from datetime import datetime

from twinbridge.db.database import Transaction
from twinbridge.db.models import (
    AuthorizationCode,
    RefreshToken,
    RefreshTokenFamily,
    ServiceClient,
    UserGrant,
)
from twinbridge.db.tables import Table

CLIENTS = Table("service_clients", ServiceClient, key=("client_id",))
GRANTS = Table("user_grants", UserGrant, key=("subject",))
CODES = Table("authorization_codes", AuthorizationCode, key=("code_hash",))
FAMILIES = Table("refresh_token_families", RefreshTokenFamily)
REFRESH_TOKENS = Table("refresh_tokens", RefreshToken, key=("token_hash",))
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


class SignInRepository:
    def __init__(self, transaction: Transaction) -> None:
        self.transaction = transaction

    async def add_code(self, code: AuthorizationCode) -> None:
        await self.transaction.execute(CODES.insert_sql, CODES.values(code))

    async def delete_codes_expired_before(self, moment: datetime) -> None:
        await self.transaction.execute(
            "DELETE FROM authorization_codes WHERE expires_at < :moment", {"moment": moment}
        )

    async def code(self, code_hash: str) -> AuthorizationCode | None:
        row = await self.transaction.one(CODES.get_sql, {"code_hash": code_hash})
        return CODES.row(row) if row else None

    async def use_code(self, code_hash: str, used_at: datetime, family_id: str | None) -> bool:
        """Marks the code used; False when another request used it first (so that one code signs in once)."""
        changed = await self.transaction.execute(
            "UPDATE authorization_codes SET used_at = :used_at, family_id = :family_id"
            " WHERE code_hash = :code_hash AND used_at IS NULL",
            {"code_hash": code_hash, "used_at": used_at, "family_id": family_id},
        )
        return changed == 1

    async def add_family(self, family: RefreshTokenFamily) -> None:
        await self.transaction.execute(FAMILIES.insert_sql, FAMILIES.values(family))

    async def add_token(self, token: RefreshToken) -> None:
        await self.transaction.execute(REFRESH_TOKENS.insert_sql, REFRESH_TOKENS.values(token))

    async def token_with_family(self, token_hash: str) -> tuple[RefreshToken, RefreshTokenFamily] | None:
        row = await self.transaction.one(
            f"SELECT {REFRESH_TOKENS.select('t')}, {FAMILIES.select('f')} FROM refresh_tokens t"
            " JOIN refresh_token_families f ON f.id = t.family_id WHERE t.token_hash = :token_hash",
            {"token_hash": token_hash},
        )
        if row is None:
            return None
        split = len(REFRESH_TOKENS.columns)
        return REFRESH_TOKENS.row(row[:split]), FAMILIES.row(row[split:])

    async def use_token(self, token_hash: str, used_at: datetime) -> bool:
        """Marks the token used; False when another request used it first."""
        changed = await self.transaction.execute(
            "UPDATE refresh_tokens SET used_at = :used_at WHERE token_hash = :token_hash AND used_at IS NULL",
            {"token_hash": token_hash, "used_at": used_at},
        )
        return changed == 1

    async def delete_tokens_expired_before(self, family_id: str, moment: datetime) -> None:
        await self.transaction.execute(
            "DELETE FROM refresh_tokens WHERE family_id = :family_id AND expires_at < :moment",
            {"family_id": family_id, "moment": moment},
        )

    async def family(self, family_id: str) -> RefreshTokenFamily | None:
        row = await self.transaction.one(FAMILIES.get_sql, {"id": family_id})
        return FAMILIES.row(row) if row else None

    async def delete_family(self, family_id: str) -> None:
        await self.transaction.execute("DELETE FROM refresh_tokens WHERE family_id = :id", {"id": family_id})
        await self.transaction.execute(FAMILIES.delete_sql, {"id": family_id})

    async def delete_dead_families(self, subject: str, now: datetime) -> None:
        """Forgets the subject's families whose every token has expired."""
        await self.transaction.execute(
            "DELETE FROM refresh_tokens WHERE expires_at <= :now AND family_id IN"
            " (SELECT id FROM refresh_token_families WHERE subject = :subject)",
            {"subject": subject, "now": now},
        )
        await self.transaction.execute(
            "DELETE FROM refresh_token_families WHERE subject = :subject AND NOT EXISTS"
            " (SELECT 1 FROM refresh_tokens t WHERE t.family_id = refresh_token_families.id)",
            {"subject": subject},
        )

    async def has_live_token(self, subject: str, now: datetime) -> bool:
        """Whether the subject holds a refresh token that can still be used, in any family."""
        row = await self.transaction.one(
            "SELECT 1 FROM refresh_tokens t JOIN refresh_token_families f ON f.id = t.family_id"
            " WHERE f.subject = :subject AND t.used_at IS NULL AND t.expires_at > :now LIMIT 1",
            {"subject": subject, "now": now},
        )
        return row is not None
