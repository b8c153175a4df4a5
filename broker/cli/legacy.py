"""`broker legacy import`: accounts of the old systems, from the CSV of the contract."""

from __future__ import annotations

import asyncio
import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from broker.cli.support import command_registry

legacy_app = typer.Typer(help="Accounts of the old provincial and ministry systems.", no_args_is_help=True)


@legacy_app.command("import")
def legacy_import(
    file: Annotated[Path, typer.Argument(exists=True, dir_okay=False, help="CSV in the legacy contract")],
    skip_invalid: Annotated[
        bool, typer.Option("--skip-invalid", help="import the valid rows, skip (and list) the others")
    ] = False,
) -> None:
    """Imports legacy accounts; prints a JSON summary. Invalid rows: nothing written, exit status 2."""
    from broker.admin.legacy_import import ImportReport, import_legacy_csv
    from broker.errors import StoreConflict

    async def run() -> ImportReport:
        async with command_registry() as registry:
            rows = _count_rows(file) if sys.stderr.isatty() else None
            if rows is None:
                return await import_legacy_csv(registry, file, skip_invalid=skip_invalid)
            with typer.progressbar(length=rows, label="importing", file=sys.stderr) as bar:
                return await import_legacy_csv(registry, file, skip_invalid=skip_invalid, progress=bar.update)

    try:
        report = asyncio.run(run())
    except StoreConflict as conflict:
        typer.echo("error: a concurrent change conflicted with the import; run it again", err=True)
        raise typer.Exit(1) from conflict
    prefix = "skipped" if report.written else "error"
    for row_error in report.errors:
        typer.echo(f"{prefix}: {row_error}", err=True)
    typer.echo(json.dumps(report.summary()))
    if not report.written:
        raise typer.Exit(2)


def _count_rows(file: Path) -> int | None:
    """Data rows, for the progress bar only: None when the file cannot even be counted."""
    import csv

    try:
        with file.open(encoding="utf-8-sig", newline="") as stream:
            return max(sum(1 for cells in csv.reader(stream) if cells) - 1, 0)
    except (OSError, UnicodeDecodeError, csv.Error):
        return None
