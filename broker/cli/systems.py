"""`broker systems`: the display names of the legacy source systems."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from broker.cli.support import echo_json, run_admin

systems_app = typer.Typer(help="Legacy source systems' display names.", no_args_is_help=True)


@systems_app.command("import")
def systems_import(file: Annotated[Path, typer.Argument(help="CSV: source_system,display_name")]) -> None:
    """Names the source systems (an existing name is replaced); prints {"named": N}."""
    from broker.admin import source_systems

    try:
        with file.open(encoding="utf-8-sig", newline="") as source:
            names = source_systems.read_names(source)
    except (OSError, source_systems.NamesFileError) as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    echo_json({"named": run_admin(lambda registry: source_systems.import_names(registry, names))})


@systems_app.command("list")
def systems_list() -> None:
    """The names pages show, as JSON (configured ones override imported ones)."""
    from broker.admin import source_systems

    echo_json(run_admin(source_systems.all_names))
