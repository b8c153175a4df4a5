"""`broker serve`: the broker under uvicorn, with logs that cannot leak. Migrations are not run here: `broker db
upgrade` is its own step, run once per deploy."""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Annotated

import typer

from broker.settings import Settings

if TYPE_CHECKING:
    from fastapi import FastAPI


def _fresh_multiprocess_dir(workers: int) -> None:
    """Several workers share their metrics through files; a previous run's files would be counted again."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if workers > 1 and not directory:
        typer.echo(
            "error: --workers > 1 needs PROMETHEUS_MULTIPROC_DIR (an empty directory) so that /metrics "
            "counts every worker",
            err=True,
        )
        raise typer.Exit(2)
    if directory:
        path = Path(directory)
        path.mkdir(parents=True, exist_ok=True)
        for stale in path.glob("*.db"):
            stale.unlink()


def _warn_about_derived_key_encryption(settings: Settings) -> None:
    if settings.environment == "production" and not (
        settings.key_encryption_key or settings.key_encryption_key_file
    ):
        import logging

        logging.getLogger("broker").warning(
            "signing keys are encrypted under a key derived from BROKER_SECRET_KEY: set "
            "BROKER_KEY_ENCRYPTION_KEY (or _FILE) to keep the two apart (docs/operations.md)"
        )


def serve(
    host: Annotated[str | None, typer.Option(help="default BROKER_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default BROKER_PORT")] = None,
    workers: Annotated[
        int,
        typer.Option(
            min=1,
            help="worker processes on one port. Everything they share (sessions, codes, tokens, key ring, "
            "login throttles) lives in the database, so use PostgreSQL with more than one; metrics need "
            "PROMETHEUS_MULTIPROC_DIR.",
        ),
    ] = 1,
) -> None:
    """Runs the broker with uvicorn."""
    import uvicorn

    from broker import logs

    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    _warn_about_derived_key_encryption(settings)
    _fresh_multiprocess_dir(workers)
    options = {
        "host": host or settings.host,
        "port": port or settings.port,
        "log_config": None,
        "access_log": False,  # broker.request logs each request once, by route template, redacted
        "proxy_headers": False,  # BROKER_TRUSTED_PROXIES decides, in the app (broker.app)
        "server_header": False,
    }
    if workers > 1:
        # Each worker is a fresh process: it builds its own app (and pool) from the same environment.
        uvicorn.run("broker.cli.serve:worker_app", factory=True, workers=workers, **options)  # type: ignore[arg-type]
        return
    from broker.app import create_app

    uvicorn.run(create_app(settings, freeze_heap=True), **options)  # type: ignore[arg-type]


def worker_app() -> FastAPI:
    """The app of one worker process of ``broker serve --workers N``, logs configured as in the parent."""
    from broker import logs
    from broker.app import create_app

    settings = Settings()
    logs.configure(settings.log_level, settings.log_format)
    return create_app(settings, freeze_heap=True)
