"""Settings of the whole program, read from TWINBRIDGE_* environment variables (or a .env file).

The names and defaults of ARCHITECTURE.md section 1 are a fixed interface: other tools set them.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Literal

from pydantic import Field, field_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEFAULT_HOST = "127.0.0.1"
DEFAULT_PORT = 8080


class Settings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TWINBRIDGE_",
        env_file=".env",
        env_file_encoding="utf-8",
        extra="ignore",
    )

    # Where things are kept.
    data_dir: Path = Path(".twinbridge")
    database_url: str | None = None
    storage_url: str | None = None

    # How the server is reached: the base of every href in _links and Location.
    public_url: str | None = None
    host: str = DEFAULT_HOST
    port: int = DEFAULT_PORT

    # Runs.
    queue: Literal["inprocess", "celery"] = "inprocess"
    broker_url: str | None = None
    workers: int = Field(default=2, ge=1)
    run_timeout: int = Field(default=3600, ge=1)
    # Not in ARCHITECTURE.md's list: how long a worker's claim on a run lasts without a heartbeat, and how
    # many times an interrupted run (worker crash, restart) is tried before it fails.
    run_lease_seconds: int = Field(default=60, ge=2)
    run_max_attempts: int = Field(default=3, ge=1)
    fetch_allow_private: bool = False
    # Not in ARCHITECTURE.md's list: bounds of every transfer the server makes itself (manifest and mapping
    # downloads, PUTs to SAS URLs): it ends within `transfer_timeout` seconds, and after its first 10 s it
    # must average `transfer_min_rate` bytes per second (0: no minimum), so that a source sending a byte at
    # a time cannot hold a worker. Runs refuse to start writing with less than `min_free_disk` bytes free
    # in the data dir (downloads also count their declared size), so a full disk fails them at once.
    transfer_timeout: int = Field(default=1800, ge=1)
    transfer_min_rate: int = Field(default=32 * 1024, ge=0)
    min_free_disk: int = Field(default=1024**3, ge=0)
    # Not in ARCHITECTURE.md's list: a run worker process whose resident memory is over this many bytes when
    # a run ends is replaced by a fresh one (0: never). IfcOpenShell 0.9 keeps most of a file's memory after
    # the file is closed (about 5 KB a product), so a worker that synchronized large files would only grow.
    worker_max_memory: int = Field(default=1024**3, ge=0)

    # Callers.
    # Not in ARCHITECTURE.md's list: the largest request body an operation reads (uploads stream theirs to
    # storage with limits of their own); larger ones are refused with 413 before they are read.
    max_body_size: int = Field(default=1024 * 1024, ge=1024)
    rate_limit: str = "5000/minute"
    # Not in ARCHITECTURE.md's list: where rate-limit counters live ("memory://" or "redis://...").
    rate_limit_storage_url: str = "memory://"
    auth_issuers: str | None = None
    auth_audience: str | None = None
    token_ttl: int = Field(default=3600, ge=60)
    # Not in ARCHITECTURE.md's list: interactive sign-in at the built-in issuer (/connect/authorize with
    # PKCE). It consents without asking anyone, for the user named by the request's `login_hint`, else for
    # `sign_in_user`: the same name on every machine and in every container, so that scripts and docs can
    # rely on it. Anyone who can reach the server can sign in so; `sign_in_enabled=false` turns it off (for
    # a server whose users sign in at an identity provider of TWINBRIDGE_AUTH_ISSUERS). Refresh tokens last
    # `refresh_token_ttl` seconds from their issue; each use replaces the token.
    sign_in_enabled: bool = True
    sign_in_user: str = Field(default="developer", min_length=1, max_length=255)
    refresh_token_ttl: int = Field(default=30 * 24 * 3600, ge=60)
    # A sign-in redirects only to a redirect URI registered for its client: these, by client id, as JSON
    # (`{"my-spa": ["https://app.example/signin-callback"]}`), compared as exact strings; loopback URIs
    # (http://127.0.0.1, [::1] or localhost, any port) need none, as RFC 8252 has native apps use them.
    sign_in_redirect_uris: dict[str, list[str]] = Field(default_factory=dict)

    # Not in ARCHITECTURE.md's list: the built web console served at /console (issue 16); by default the one
    # `make setup` builds into the package (src/twinbridge/console/dist).
    console_dir: Path | None = None

    # Webhooks (issue 15): deliveries of events to subscribers' callback URLs, sent by the API process.
    # A failed POST is tried again after `webhook_retry_base` * 2^(n-1) seconds (n: attempts so far), at
    # most `webhook_max_attempts` times; each POST may take `webhook_timeout` seconds; the sender looks for
    # due deliveries every `webhook_poll_interval` seconds. Callback URLs on loopback and private addresses
    # need TWINBRIDGE_FETCH_ALLOW_PRIVATE, as every request the server sends.
    webhook_retry_base: float = Field(default=5.0, gt=0)
    webhook_max_attempts: int = Field(default=8, ge=1)
    webhook_timeout: float = Field(default=10.0, gt=0)
    webhook_poll_interval: float = Field(default=1.0, gt=0)

    # Test support (issue 15; none of it exists upstream). The control API under /_twinbridge/ (reset,
    # snapshots, scripted runs, faults, the request journal) answers only when this is set; otherwise its
    # paths answer 404 as any unknown path would, and its middleware is not installed.
    control_api: bool = False
    # With the control API: how many requests the request journal keeps (0: none), and whether it keeps
    # their bodies and those of their answers (the first 64 KiB of each).
    journal_size: int = Field(default=1000, ge=0)
    journal_bodies: bool = False
    # Test support (issue 15, twinbridge's own): every run that no scripted-run rule matches follows a short
    # default script (Executing, then Success; exports store a small valid IFC file) instead of doing the
    # work, and no iModel engine is started or warmed, so that a server starts and runs in well under a
    # second. Rules themselves need the control API (control/scripts).
    scripted_runs_only: bool = False

    @field_validator("public_url")
    @classmethod
    def _strip_trailing_slash(cls, value: str | None) -> str | None:
        return value.rstrip("/") if value else value

    @field_validator("data_dir")
    @classmethod
    def _absolute_data_dir(cls, value: Path) -> Path:
        return value.expanduser().resolve()

    @property
    def base_url(self) -> str:
        """The public base URL, derived from the listening address when not configured."""
        if self.public_url:
            return self.public_url
        return f"http://{self.host}:{self.port}"

    @property
    def builtin_issuer_url(self) -> str:
        return self.base_url

    @property
    def server_record_path(self) -> Path:
        """Written by `serve`: the public URL it serves at, so that offline tokens name the right issuer."""
        return self.data_dir / "server.json"

    def with_served_url(self) -> Settings:
        """These settings, with the public URL of the server last started on this data dir if none is set."""
        if self.public_url or not self.server_record_path.is_file():
            return self
        try:
            served = json.loads(self.server_record_path.read_text())["public_url"]
        except (OSError, ValueError, KeyError):
            return self
        return self.model_copy(update={"public_url": served})

    @property
    def accepted_issuers(self) -> list[str]:
        if not self.auth_issuers:
            return [self.builtin_issuer_url]
        return [issuer.strip().rstrip("/") for issuer in self.auth_issuers.split(",") if issuer.strip()]

    @property
    def is_sqlite(self) -> bool:
        return not self.database_url or self.database_url.startswith("sqlite")

    @property
    def sqlite_path(self) -> Path:
        """The SQLite file: the one a `sqlite:///path` URL names, else twinbridge.db in the data dir."""
        if self.database_url and self.database_url.startswith("sqlite"):
            return Path(self.database_url.split(":///", 1)[1])
        return self.data_dir / "twinbridge.db"

    @property
    def postgres_url(self) -> str:
        """The PostgreSQL URL as libpq reads it (a SQLAlchemy-style `postgresql+psycopg://` works too)."""
        return re.sub(r"^postgresql\+\w+://", "postgresql://", self.database_url or "")

    @property
    def blob_storage_url(self) -> str:
        return self.storage_url or f"file://{self.data_dir / 'blobs'}"

    @property
    def rate_limit_enabled(self) -> bool:
        return self.rate_limit.strip().lower() not in {"", "none", "off"}

    @property
    def issuer_key_dir(self) -> Path:
        return self.data_dir / "issuer"


def load_settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]
