"""The `twinbridge` command (ARCHITECTURE.md section 1).

Ids and tokens go alone to stdout; messages go to stderr.

Commands that write state open the same database as a running server (SQLite WAL with a busy timeout), so
they work while `serve` runs on the same data directory.
"""

from __future__ import annotations

import json
import os
import sys
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, TypeVar

import typer

from twinbridge.auth.permissions import Role
from twinbridge.auth.scopes import ACCEPTED_SCOPES
from twinbridge.config import Settings
from twinbridge.platform.errors import ApiError
from twinbridge.platform.private_paths import PRIVATE_UMASK

if TYPE_CHECKING:
    from twinbridge.db.database import Transaction

app = typer.Typer(
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_show_locals=False,
    help="Self-hosted iTwin Export and Synchronization APIs.",
)
itwins_app = typer.Typer(no_args_is_help=True, help="Manage iTwins and their members.")
imodels_app = typer.Typer(no_args_is_help=True, help="Manage iModels.")
clients_app = typer.Typer(no_args_is_help=True, help="Manage service clients of the built-in issuer.")
db_app = typer.Typer(no_args_is_help=True, help="Manage the database.")
app.add_typer(itwins_app, name="itwins")
app.add_typer(imodels_app, name="imodels")
app.add_typer(clients_app, name="clients")
app.add_typer(db_app, name="db")

Result = TypeVar("Result")


def _fail(message: str) -> typer.Exit:
    typer.secho(f"error: {message}", fg=typer.colors.RED, err=True)
    return typer.Exit(code=1)


def _settings(**overrides: object) -> Settings:
    return Settings(**overrides)  # type: ignore[arg-type]


def _require_broker(settings: Settings) -> None:
    """The scale-out queue cannot start without its broker: say so in one line rather than a traceback."""
    if settings.queue == "celery" and not settings.broker_url:
        raise _fail("TWINBRIDGE_QUEUE=celery needs TWINBRIDGE_BROKER_URL (e.g. redis://127.0.0.1:6379/0)")


def _send_waiting_runs(settings: Settings) -> None:
    """Restarting an API node sends again the runs still waiting, in case their message was never sent."""
    from twinbridge.runs.celery_app import create_celery_app, requeue_waiting_runs

    celery = create_celery_app(settings)
    try:
        requeue_waiting_runs(settings, celery)
    except Exception as failure:  # the broker may be away; serving goes on, the workers' start sends them
        typer.echo(f"warning: could not send the waiting runs to the broker: {failure}", err=True)
    finally:
        celery.close()


def _with_database(settings: Settings, work: Callable[[Transaction], Awaitable[Result]]) -> Result:
    """Brings the schema up to date, then runs `work(transaction)` in one committed transaction.

    Only the database is opened, not a whole Runtime: a command should answer in a blink.
    """
    import asyncio

    from twinbridge.db.database import open_database
    from twinbridge.db.migrate import ensure_schema

    ensure_schema(settings)

    async def run() -> Result:
        database = open_database(settings)
        try:
            async with database.transaction() as transaction:
                return await work(transaction)
        finally:
            await database.close()

    try:
        return asyncio.run(run())
    except ApiError as error:
        raise _fail("; ".join(detail.message for detail in error.details) or error.message) from None


@app.command()
def serve(
    host: Annotated[str, typer.Option(help="Address to listen on.")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="Port to listen on.")] = 8080,
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run the API server (embedded mode)."""
    import uvicorn

    from twinbridge.app import create_app
    from twinbridge.db.migrate import ensure_schema
    from twinbridge.platform.observability import configure_logging

    settings = _settings(host=host, port=port)
    _require_broker(settings)
    configure_logging(log_level.upper())
    ensure_schema(settings)
    settings.data_dir.mkdir(parents=True, exist_ok=True)
    settings.server_record_path.write_text(json.dumps({"public_url": settings.base_url}))
    if settings.queue == "celery":
        _send_waiting_runs(settings)
    typer.echo(f"twinbridge serving at {settings.base_url} (data in {settings.data_dir})", err=True)
    uvicorn.run(
        create_app(settings, run_workers=True),
        host=host,
        port=port,
        log_level=log_level,
        access_log=False,  # the request middleware writes structured request logs
        server_header=False,
    )


@app.command()
def token(
    user: Annotated[str | None, typer.Option(help="Mint a user token for this user name.")] = None,
    client: Annotated[str | None, typer.Option(help="Mint a service (client-credentials) token.")] = None,
    scope: Annotated[
        str, typer.Option(help="Space-separated scopes; any string (warns when none is one the APIs accept).")
    ] = "itwin-platform",
    ttl: Annotated[int | None, typer.Option(help="Lifetime in seconds.")] = None,
    grant: Annotated[
        bool, typer.Option(help="With --user: the token carries the user's consent to background runs.")
    ] = True,
) -> None:
    """Print an access token of the built-in issuer, signed offline with the data dir's key.

    A user token carries the user's consent to background runs: the server records it when the token starts
    a run, so that runs of User connections may act for them (the cloud asks the user to authorize once);
    --no-grant leaves it out, to try the UserNotAuthenticated path. Minting never opens the database.
    """
    from twinbridge.auth.issuer import BuiltInIssuer
    from twinbridge.auth.keys import load_or_create_signing_key

    if (user is None) == (client is None):
        raise _fail("give exactly one of --user NAME or --client ID")
    scopes = scope.split()
    if not set(scopes) & ACCEPTED_SCOPES:
        # Minted anyway: a developer tests how their client handles a token without the needed scope.
        typer.echo(
            f"warning: no scope the APIs accept ({', '.join(sorted(ACCEPTED_SCOPES))}); "
            "the APIs answer this token 401",
            err=True,
        )
    from twinbridge.auth.identity import is_builtin_name

    if not is_builtin_name(user or client or ""):
        raise _fail("a user name or client id is 1 to 255 printable characters without '|'")
    settings = _settings().with_served_url()
    issuer = BuiltInIssuer(
        settings.builtin_issuer_url,
        load_or_create_signing_key(settings.issuer_key_dir),
        settings.auth_audience,
    )
    minted = issuer.mint(
        subject=user or client or "",
        kind="user" if user else "service",
        scopes=scopes,
        ttl=ttl or settings.token_ttl,
        background_runs=bool(user and grant),
    )
    typer.echo(minted.access_token)


@itwins_app.command("create")
def itwins_create(
    name: Annotated[str, typer.Argument(help="Display name of the iTwin.")],
    owner: Annotated[str | None, typer.Option(help="User name or client id that becomes its Owner.")] = None,
) -> None:
    """Create an iTwin; prints its id."""
    from twinbridge.itwins.service import ITwinService

    async def work(transaction: Transaction) -> str:
        itwin = await ITwinService(transaction).create(name, owner)
        return itwin.id

    itwin_id = _with_database(_settings(), work)
    if owner is None:
        typer.echo(
            "note: the iTwin has no members yet; add one with `twinbridge itwins add-member`", err=True
        )
    typer.echo(itwin_id)


@itwins_app.command("add-member")
def itwins_add_member(
    itwin_id: Annotated[str, typer.Argument(help="The iTwin's id.")],
    subject: Annotated[
        str, typer.Argument(help="A user name or client id of the built-in issuer, or a token's `sub`.")
    ],
    role: Annotated[Role, typer.Option(help="Owner, Contributor or Reader.", case_sensitive=False)],
    issuer: Annotated[
        str | None,
        typer.Option(help="The external issuer (a URL of TWINBRIDGE_AUTH_ISSUERS) whose `sub` SUBJECT is."),
    ] = None,
) -> None:
    """Give a user or service client a role on an iTwin (or change its role).

    A caller is the pair (issuer, subject): SUBJECT alone is a user or client of the built-in issuer; with
    --issuer it is that issuer's `sub`, kept as `ISSUER|SUBJECT` (which may also be given as SUBJECT).
    """
    from twinbridge.auth.identity import external_name
    from twinbridge.itwins.service import ITwinService

    if issuer is not None:
        subject = external_name(issuer, subject)

    async def work(transaction: Transaction) -> None:
        service = ITwinService(transaction)
        await service.require(itwin_id)
        await service.set_member(itwin_id, subject, role)

    _with_database(_settings(), work)
    typer.echo(f"{subject} is now {role.value} of iTwin {itwin_id}", err=True)


@imodels_app.command("import")
def imodels_import(
    itwin_id: Annotated[str, typer.Argument(help="The iTwin to add the iModel to.")],
    file: Annotated[
        Path, typer.Argument(help="A .bim snapshot file.", exists=True, dir_okay=False, readable=True)
    ],
    name: Annotated[
        str | None, typer.Option(help="iModel name (default: the file name without extension).")
    ] = None,
    description: Annotated[str | None, typer.Option(help="iModel description.")] = None,
) -> None:
    """Register a .bim snapshot as a new iModel; prints its id."""
    from twinbridge.imodels.service import IModelService
    from twinbridge.storage.backends import create_blob_storage

    settings = _settings()
    blobs = create_blob_storage(settings.blob_storage_url, settings.data_dir / "blob-cache")

    async def work(transaction: Transaction) -> str:
        imported = await IModelService(transaction, blobs).import_file(
            itwin_id, file, name or file.stem, description, caller=None
        )
        return imported.imodel.id

    typer.echo(_with_database(settings, work))


@clients_app.command("create")
def clients_create(
    client_id: Annotated[str, typer.Argument(help="The client id to register.")],
    scope: Annotated[
        str, typer.Option(help="Space-separated scopes the client may request.")
    ] = "itwin-platform",
    rotate: Annotated[
        bool, typer.Option(help="Replace the secret of a client that exists (the old one stops working).")
    ] = False,
) -> None:
    """Register a service client for POST /connect/token; prints its secret (shown only once).

    A client that exists keeps its secret: the command refuses unless --rotate is given.
    """
    from twinbridge.auth.service import ServiceClientService

    async def work(transaction: Transaction) -> str:
        return await ServiceClientService(transaction).register(client_id, scope.split(), rotate=rotate)

    typer.echo(_with_database(_settings(), work))


@app.command()
def convert(
    source: Annotated[Path, typer.Argument(metavar="INPUT.bim", help="The iModel snapshot to export.")],
    destination: Annotated[Path, typer.Argument(metavar="OUTPUT.ifc", help="The IFC file to write.")],
    ifc_version: Annotated[
        str, typer.Option(help='"IFC4.3", "IFC2x3", "IFC2x3 CV 2.0" or "IFC4 RV 1.2".')
    ] = "IFC4.3",
    model: Annotated[list[str] | None, typer.Option(help="Export only this model id (repeatable).")] = None,
    mapping: Annotated[Path | None, typer.Option(help="A JSON class-mapping file (see docs).")] = None,
) -> None:
    """Convert an iModel snapshot to IFC offline (no server needed)."""
    from twinbridge.engines.ifc.convert import convert as run_convert

    code = run_convert(source, destination, ifc_version=ifc_version, model_ids=model, mapping=mapping)
    if code:
        raise typer.Exit(code=code)


@app.command()
def worker(
    log_level: Annotated[str, typer.Option(help="debug, info, warning or error.")] = "info",
) -> None:
    """Run a run worker only (scale-out mode): executes runs, serves no API.

    With TWINBRIDGE_QUEUE=celery it is a Celery worker of TWINBRIDGE_BROKER_URL; with inprocess it claims runs
    from the database like the workers of `serve` (so a machine of its own can add capacity to either).
    TWINBRIDGE_WORKERS runs execute at a time, each in a process of its own with a warm engine.
    """
    import signal
    import threading

    from twinbridge.db.migrate import ensure_schema
    from twinbridge.features import run_executors
    from twinbridge.platform.observability import configure_logging

    settings = _settings()
    _require_broker(settings)
    configure_logging(log_level.upper())
    ensure_schema(settings)
    typer.echo(
        f"twinbridge worker: {settings.workers} run(s) at a time from the {settings.queue} queue", err=True
    )
    if settings.queue == "celery":
        from twinbridge.runs.celery_app import run_celery_worker

        run_celery_worker(settings, run_executors, log_level)
        return

    from twinbridge.runs.embedded import EmbeddedWorkers

    workers = EmbeddedWorkers(settings, run_executors)
    stopping = threading.Event()
    for signal_number in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signal_number, lambda *_: stopping.set())
    workers.start()
    stopping.wait()
    workers.stop()


@db_app.command("upgrade")
def db_upgrade() -> None:
    """Apply database migrations (serve and worker also do it at start)."""
    from twinbridge.db.migrate import upgrade

    revision = upgrade(_settings())
    typer.echo(f"database at revision {revision}", err=True)


def main() -> None:
    # What the server, its workers and the commands write in the data dir is the user's alone.
    os.umask(PRIVATE_UMASK)
    try:
        app()
    except KeyboardInterrupt:
        sys.exit(130)


if __name__ == "__main__":
    main()
