"""`broker serve`: the broker under uvicorn, with logs that cannot leak."""

from __future__ import annotations

from typing import Annotated

import typer

from broker.settings import Settings


def serve(
    host: Annotated[str | None, typer.Option(help="default BROKER_HOST")] = None,
    port: Annotated[int | None, typer.Option(help="default BROKER_PORT")] = None,
) -> None:
    """Runs the broker with uvicorn."""
    import uvicorn

    from broker import logs
    from broker.app import create_app

    settings = Settings()
    logs.configure(settings.log_level)
    uvicorn.run(
        create_app(settings),
        host=host or settings.host,
        port=port or settings.port,
        log_config=None,
        proxy_headers=False,  # BROKER_TRUSTED_PROXIES decides, in the app (broker.app)
        server_header=False,
    )
