"""The long-lived parts of one process (database, storage, issuer, validators), built once from settings."""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy.ext.asyncio import AsyncEngine, AsyncSession, async_sessionmaker

from twinbridge.auth.issuer import BuiltInIssuer
from twinbridge.auth.keys import load_or_create_signing_key
from twinbridge.auth.tokens import TokenValidator
from twinbridge.config import Settings
from twinbridge.db.engine import create_database_engine, create_session_factory
from twinbridge.db.sqlite_reads import SqliteReads, open_sqlite_reads
from twinbridge.platform.observability import Metrics
from twinbridge.platform.rate_limit import RateLimiter
from twinbridge.runs.queue import RunQueue, create_run_queue
from twinbridge.storage.blobs import BlobStorage, create_blob_storage


@dataclass
class Runtime:
    settings: Settings
    database: AsyncEngine
    sessions: async_sessionmaker[AsyncSession]
    # Sessions for requests that only read (GET); on SQLite their transactions never take the write lock.
    read_sessions: async_sessionmaker[AsyncSession]
    blobs: BlobStorage
    issuer: BuiltInIssuer
    tokens: TokenValidator
    rate_limiter: RateLimiter | None
    metrics: Metrics
    run_queue: RunQueue
    # One-hop reads for the fast paths of polled GETs; None on PostgreSQL.
    sqlite_reads: SqliteReads | None = None

    @classmethod
    def create(cls, settings: Settings) -> Runtime:
        signing_key = load_or_create_signing_key(settings.issuer_key_dir)
        issuer = BuiltInIssuer(settings.builtin_issuer_url, signing_key, settings.auth_audience)
        database = create_database_engine(settings)
        read_database = create_database_engine(settings, for_reads=True) if settings.is_sqlite else database
        return cls(
            settings=settings,
            database=database,
            sessions=create_session_factory(database),
            read_sessions=create_session_factory(read_database),
            blobs=create_blob_storage(settings.blob_storage_url, settings.data_dir / "blob-cache"),
            issuer=issuer,
            tokens=TokenValidator(
                accepted_issuers=settings.accepted_issuers,
                builtin_issuer_url=settings.builtin_issuer_url,
                builtin_key=signing_key,
                audience=settings.auth_audience,
            ),
            rate_limiter=(
                RateLimiter(settings.rate_limit, settings.rate_limit_storage_url)
                if settings.rate_limit_enabled
                else None
            ),
            metrics=Metrics(),
            run_queue=create_run_queue(settings),
            sqlite_reads=open_sqlite_reads(settings),
        )

    async def aclose(self) -> None:
        if self.sqlite_reads is not None:
            self.sqlite_reads.close()
        await self.tokens.aclose()
        await self.database.dispose()
        read_database = self.read_sessions.kw["bind"]
        if read_database is not self.database:
            await read_database.dispose()
