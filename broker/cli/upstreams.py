"""``broker upstreams``: the configured upstreams, and the gateway's key pair."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from pydantic import ValidationError

from broker.cli.support import echo_json
from broker.settings import Settings
from broker.upstream.gateway_crypto import create_key_files

upstreams_app = typer.Typer(
    help="Upstream identity providers (issue 10, docs/upstreams.md).", no_args_is_help=True
)


@upstreams_app.command("list")
def list_upstreams() -> None:
    """The configured upstreams as the broker reads them (a bad configuration fails here, clearly)."""
    try:
        configs = Settings().upstream_configs()
    except ValidationError as error:
        for problem in error.errors():
            where = ".".join(str(part) for part in problem["loc"]) or "settings"
            typer.echo(f"error: {where}: {problem['msg']}", err=True)
        raise typer.Exit(2) from None
    echo_json(
        [
            {
                "id": upstream.id,
                "display_name": upstream.display_name,
                "type": upstream.type,
                "issuer": upstream.issuer,
                "link_issuer": upstream.identity_issuer,
                "logout": upstream.logout,
            }
            for upstream in configs
        ]
    )


@upstreams_app.command("gateway-key")
def gateway_key(
    private_key_file: Annotated[
        Path, typer.Argument(help="Where the broker's RSA private key lives (created 0600).")
    ],
    public_key_file: Annotated[
        Path | None, typer.Option(help="Where to write its public key (default: FILE.pub).")
    ] = None,
) -> None:
    """Create the broker's RSA key pair for VNeID's gateway, unless it exists; write its public key."""
    public = public_key_file or private_key_file.with_name(private_key_file.name + ".pub")
    created = create_key_files(private_key_file, public)
    typer.echo(f"{'created' if created else 'kept'} {private_key_file}; public key in {public}")
