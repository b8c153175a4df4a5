"""`broker legacy import` and `broker legacy reconcile`: accounts of the old systems, at provincial scale."""

from __future__ import annotations

import asyncio
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Annotated

import typer

from broker.cli.support import cli_actor, command_registry

legacy_app = typer.Typer(help="Accounts of the old provincial and ministry systems.", no_args_is_help=True)

SHOWN_ERRORS = 20  # on the terminal; the reject file has every one


@legacy_app.command("import")
def legacy_import(
    file: Annotated[
        Path,
        typer.Argument(
            exists=True, dir_okay=False, help="CSV in the legacy contract, or JSON Lines (.jsonl)"
        ),
    ],
    dry_run: Annotated[bool, typer.Option("--dry-run", help="validate and count; write nothing")] = False,
    rejects: Annotated[
        Path | None,
        typer.Option(
            "--rejects", dir_okay=False, help="write bad rows here: line number, reason, original line"
        ),
    ] = None,
    skip_invalid: Annotated[
        bool,
        typer.Option("--skip-invalid", hidden=True, help="the default since issue 9: bad rows are set aside"),
    ] = False,
) -> None:
    """Imports legacy accounts; bad rows are set aside (see --rejects). Prints a JSON summary last."""
    from broker.admin.legacy_import import ImportReport, import_legacy_csv
    from broker.errors import StoreConflict

    del skip_invalid

    async def run() -> ImportReport:
        async with command_registry() as registry:
            with _progress(file) as tell:
                return await import_legacy_csv(
                    registry, file, dry_run=dry_run, rejects=rejects, actor=cli_actor(), progress=tell
                )

    try:
        report = asyncio.run(run())
    except StoreConflict as conflict:
        typer.echo("error: a concurrent change conflicted with the import; run it again", err=True)
        raise typer.Exit(1) from conflict
    for row_error in report.errors[:SHOWN_ERRORS]:
        typer.echo(f"{'error' if report.unreadable else 'rejected'}: {row_error}", err=True)
    if report.rejected > SHOWN_ERRORS:
        typer.echo(f"... {report.rejected - SHOWN_ERRORS} more rejected rows (see --rejects)", err=True)
    typer.echo(json.dumps(report.summary()))
    if report.unreadable:
        raise typer.Exit(2)


@contextmanager
def _progress(file: Path) -> Iterator[Callable[[int], None]]:
    """A progress bar with rows/s and ETA on a terminal; a plain line per committed chunk otherwise (cron)."""
    if not sys.stderr.isatty():
        started, done = time.monotonic(), 0

        def plain(rows: int) -> None:
            nonlocal done
            done += rows
            rate = done / max(time.monotonic() - started, 1e-6)
            print(f"legacy import: {done} rows read, {rate:.0f} rows/s", file=sys.stderr, flush=True)

        yield plain
        return
    from rich.console import Console
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

    columns = (
        TextColumn("importing"),
        BarColumn(),
        MofNCompleteColumn(),
        TextColumn("{task.fields[rate]} rows/s"),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=Console(stderr=True)) as bar:
        task = bar.add_task("import", total=_physical_lines(file), rate="-")

        def advance(rows: int) -> None:
            bar.advance(task, rows)
            bar.update(task, rate=f"{bar.tasks[task].speed or 0:.0f}")

        yield advance


def _physical_lines(file: Path) -> int | None:
    """Lines in the file (less the CSV header): close to the rows, for the ETA only; read in blocks."""
    try:
        with file.open("rb") as stream:
            lines = sum(block.count(b"\n") for block in iter(lambda: stream.read(1 << 20), b""))
    except OSError:
        return None
    return lines if file.suffix.lower() == ".jsonl" else max(lines - 1, 0)


@legacy_app.command("reconcile")
def legacy_reconcile() -> None:
    """Classifies accounts still without a class and files each group of duplicate suspects (Case 3) in the
    review queue once. Safe to rerun; works in short batches, so logins never wait long."""
    from broker.admin.reconcile import reconcile

    async def run() -> dict[str, int]:
        async with command_registry() as registry:
            return await reconcile(registry)

    typer.echo(json.dumps(asyncio.run(run())))
