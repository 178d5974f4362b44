"""Shared fixtures. Every test that touches the database runs on SQLite and on PostgreSQL.

PostgreSQL is the server at TWINBRIDGE_TEST_POSTGRES_URL (default 127.0.0.1:5432, database `test`). Each test
run creates a database of its own there and drops it at the end. Without a server those tests skip, except
under CI=true, where a missing PostgreSQL fails them.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator, Callable, Iterator
from pathlib import Path

import httpx
import pytest
from sqlalchemy import create_engine, text

from twinbridge.app import create_app
from twinbridge.config import Settings
from twinbridge.db.migrate import upgrade
from twinbridge.runtime import Runtime

# Public sample files kept in the repository (samples/README.md says where each comes from).
SAMPLES = Path(__file__).resolve().parents[1] / "samples"
SAMPLE_IMODELS = SAMPLES / "imodels"
SAMPLE_IFC = SAMPLES / "ifc"
EMPTY_IMODEL = SAMPLE_IMODELS / "213d69e0-9a83-4e3f-942d-694e94c9f905m.bim"
POSTGRES_ADMIN_URL = os.environ.get(
    "TWINBRIDGE_TEST_POSTGRES_URL", "postgresql+psycopg://postgres@127.0.0.1:5432/test"
)
IN_CI = os.environ.get("CI", "").lower() == "true"
# A project of an outside user of the pytest plugin: tests/integration/test_pytest_plugin.py runs it apart.
collect_ignore = ["plugin_project"]


def _postgres_unavailable_reason() -> str | None:
    try:
        engine = create_engine(POSTGRES_ADMIN_URL, connect_args={"connect_timeout": 3})
        with engine.connect() as connection:
            connection.execute(text("SELECT 1"))
        engine.dispose()
    except Exception as failure:
        return f"PostgreSQL at {POSTGRES_ADMIN_URL} is not reachable ({type(failure).__name__})"
    return None


@pytest.fixture(scope="session")
def postgres_url() -> Iterator[str]:
    """A fresh PostgreSQL database for this test run, migrated to head."""
    reason = _postgres_unavailable_reason()
    if reason:
        if IN_CI:
            pytest.fail(f"{reason}; CI=true requires PostgreSQL")
        pytest.skip(reason)
    name = f"twinbridge_test_{uuid.uuid4().hex[:12]}"
    admin = create_engine(POSTGRES_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as connection:
        connection.execute(text(f'CREATE DATABASE "{name}"'))
    url = POSTGRES_ADMIN_URL.rsplit("/", 1)[0] + f"/{name}"
    upgrade(Settings(database_url=url, data_dir=Path("/tmp")))  # type: ignore[call-arg]
    yield url
    with admin.connect() as connection:
        connection.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
    admin.dispose()


def _truncate_postgres(url: str) -> None:
    """Empties every table the migrations made (all but Alembic's own)."""
    engine = create_engine(url)
    with engine.begin() as connection:
        names = connection.execute(
            text(
                "SELECT tablename FROM pg_tables"
                " WHERE schemaname = 'public' AND tablename <> 'alembic_version'"
            )
        ).scalars()
        tables = ", ".join(f'"{name}"' for name in names)
        connection.execute(text(f"TRUNCATE {tables} RESTART IDENTITY CASCADE"))
    engine.dispose()


@pytest.fixture(params=["sqlite", pytest.param("postgresql", marks=pytest.mark.postgres)])
def database_url(request: pytest.FixtureRequest, tmp_path: Path) -> str | None:
    """None means the default SQLite file in the data dir; otherwise a clean PostgreSQL database."""
    if request.param == "sqlite":
        return None
    url: str = request.getfixturevalue("postgres_url")
    _truncate_postgres(url)
    return url


@pytest.fixture
def make_settings(tmp_path: Path, database_url: str | None) -> Callable[..., Settings]:
    def make(**overrides: object) -> Settings:
        values: dict[str, object] = {
            "data_dir": tmp_path / "data",
            "database_url": database_url,
            "public_url": "http://twinbridge.test",
            "rate_limit": "none",
        }
        values.update(overrides)
        return Settings(**values)  # type: ignore[arg-type]

    return make


@pytest.fixture
def settings(make_settings: Callable[..., Settings]) -> Settings:
    return make_settings()


@pytest.fixture
def migrated(settings: Settings) -> Settings:
    upgrade(settings)
    return settings


@pytest.fixture
async def runtime(migrated: Settings) -> AsyncIterator[Runtime]:
    runtime = Runtime.create(migrated)
    yield runtime
    await runtime.aclose()


@pytest.fixture
async def client(runtime: Runtime) -> AsyncIterator[httpx.AsyncClient]:
    app = create_app(runtime.settings, runtime)
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url=runtime.settings.base_url) as client:
        yield client


@pytest.fixture
def token_for(runtime: Runtime) -> Callable[..., str]:
    def mint(
        subject: str,
        kind: str = "user",
        scopes: str = "itwin-platform",
        ttl: int = 600,
        background_runs: bool = False,
    ) -> str:
        return runtime.issuer.mint(
            subject=subject,
            kind=kind,  # type: ignore[arg-type]
            scopes=scopes.split(),
            ttl=ttl,
            background_runs=background_runs,
        ).access_token

    return mint


@pytest.fixture
def auth_headers(token_for: Callable[..., str]) -> Callable[..., dict[str, str]]:
    def headers(subject: str, **kwargs: object) -> dict[str, str]:
        return {"Authorization": f"Bearer {token_for(subject, **kwargs)}"}

    return headers
