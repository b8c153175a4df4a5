"""The `mock-vneid` command: serve the mock with uvicorn."""

from __future__ import annotations

from typing import Annotated, Any

import typer
import uvicorn

from mock_vneid.app import create_app
from mock_vneid.citizens import CitizenSeedError
from mock_vneid.settings import MockSettings


def serve(
    host: Annotated[str | None, typer.Option(help="Interface to listen on [MOCK_VNEID_HOST].")] = None,
    port: Annotated[int | None, typer.Option(help="Port to listen on [MOCK_VNEID_PORT].")] = None,
) -> None:
    """Serve mock VNeID, configured by MOCK_VNEID_* environment variables."""
    overrides: dict[str, Any] = {k: v for k, v in {"host": host, "port": port}.items() if v is not None}
    settings = MockSettings(**overrides)
    try:
        app = create_app(settings)
    except (CitizenSeedError, ValueError, OSError) as exc:  # a bad seed or key file
        typer.echo(f"mock-vneid: {exc}", err=True)
        raise typer.Exit(code=2) from None
    citizens = len(app.state.mock.citizens)
    typer.echo(f"mock-vneid: issuer {settings.issuer}, {citizens} citizens from {settings.citizens_file}")
    typer.echo(f"mock-vneid: mode {settings.mode}")
    if settings.test_controls:
        typer.echo("mock-vneid: test controls are ENABLED at /_test/*")
    uvicorn.run(app, host=settings.host, port=settings.port, access_log=settings.access_log)


def main() -> None:
    typer.run(serve)
