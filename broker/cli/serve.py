"""`broker serve`: the broker under uvicorn, with logs that cannot leak."""

from __future__ import annotations

from typing import TYPE_CHECKING, Annotated

import typer

from broker.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI


def serve(
    host: Annotated[str | None, typer.Option(help="default BROKER_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default BROKER_PORT")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="worker processes on one port. Everything they share (sessions, codes, tokens, key ring, "
            "login throttles) lives in the database, so use PostgreSQL with more than one.",
        ),
    ] = 1,
) -> None:
    """Runs the broker with uvicorn."""
    import uvicorn

    from broker import logs

    settings = Settings()
    logs.configure(settings.log_level)
    if workers == 1:
        from broker.app import create_app

        app: FastAPI | str = create_app(settings)
    else:
        # Each worker is a fresh process: it builds its own app (and pool) from the same environment.
        app = "broker.cli.serve:worker_app"
    uvicorn.run(
        app,
        host=host or settings.host,
        port=port or settings.port,
        workers=workers if workers > 1 else None,
        factory=workers > 1,
        log_config=None,
        proxy_headers=False,  # BROKER_TRUSTED_PROXIES decides, in the app (broker.app)
        server_header=False,
    )


def worker_app() -> FastAPI:
    """The app of one worker process (``--workers N``), logs configured as in the parent."""
    from broker import logs
    from broker.app import create_app

    settings = Settings()
    logs.configure(settings.log_level)
    return create_app(settings)
