"""The long-lived parts of one process (database, storage, issuer, validators), built once from settings."""

from __future__ import annotations

from dataclasses import dataclass, field

from twinbridge.auth.attempts import FailedSecretAttempts
from twinbridge.auth.issuer import BuiltInIssuer
from twinbridge.auth.keys import load_or_create_signing_key
from twinbridge.auth.tokens import TokenValidator
from twinbridge.config import Settings
from twinbridge.db.database import Database, open_database
from twinbridge.platform.observability import Metrics
from twinbridge.platform.outbound import OutboundClient
from twinbridge.platform.private_paths import private_directory
from twinbridge.platform.rate_limit import RateLimiter
from twinbridge.runs.queue import InProcessRunQueue, RunQueue
from twinbridge.storage.backends import create_blob_storage
from twinbridge.storage.blobs import BlobStorage


@dataclass
class Runtime:
    settings: Settings
    database: Database
    blobs: BlobStorage
    issuer: BuiltInIssuer
    tokens: TokenValidator
    rate_limiter: RateLimiter | None
    metrics: Metrics
    run_queue: RunQueue
    # Every request the server sends for a caller (downloads, PUTs to SAS URLs) goes through it.
    outbound: OutboundClient
    # Wrong client secrets at the token endpoint, per client id and source address (auth/attempts.py).
    secret_attempts: FailedSecretAttempts = field(default_factory=FailedSecretAttempts)

    @classmethod
    def create(cls, settings: Settings, run_queue: RunQueue | None = None) -> Runtime:
        """`run_queue`: how this process sends runs to workers (the app chooses it); none for a worker."""
        private_directory(settings.data_dir)
        signing_key = load_or_create_signing_key(settings.issuer_key_dir)
        issuer = BuiltInIssuer(settings.builtin_issuer_url, signing_key, settings.auth_audience)
        return cls(
            settings=settings,
            database=open_database(settings),
            blobs=create_blob_storage(settings.blob_storage_url, settings.data_dir / "blob-cache"),
            issuer=issuer,
            tokens=TokenValidator(
                accepted_issuers=settings.accepted_issuers,
                builtin_issuer_url=settings.builtin_issuer_url,
                builtin_key=signing_key,
                audience=settings.auth_audience,
                allow_private=settings.fetch_allow_private,
            ),
            rate_limiter=(
                RateLimiter(settings.rate_limit, settings.rate_limit_storage_url)
                if settings.rate_limit_enabled
                else None
            ),
            metrics=Metrics(),
            run_queue=run_queue or InProcessRunQueue(),
            outbound=OutboundClient.from_settings(settings),
        )

    async def aclose(self) -> None:
        await self.database.close()
