"""`broker review`, `broker accounts`, `broker maintenance`: the operators' work (`broker report`: report.py)."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from broker.cli.clients import keys_app
from broker.cli.support import command_registry

review_app = typer.Typer(
    help="The officers' review queue (doubtful duplicates, identity mismatches).", no_args_is_help=True
)
accounts_app = typer.Typer(help="Account maintenance.", no_args_is_help=True)
maintenance_app = typer.Typer(help="Housekeeping for cron.", no_args_is_help=True)


@review_app.command("list")
def review_list(
    status: Annotated[str, typer.Option(help="open, resolved or all")] = "open",
) -> None:
    """Lists review items as JSON (identification numbers masked)."""
    from broker.admin import reviews

    async def run() -> list[dict[str, object]]:
        async with command_registry() as registry:
            items = await reviews.list_items(registry, None if status == "all" else status)
            return [
                {
                    "id": item.id,
                    "kind": item.kind,
                    "status": item.status,
                    "account_ids": item.account_ids,
                    "details": item.details,
                    "created_at": item.created_at.isoformat(),
                    "resolution": item.resolution,
                }
                for item in items
            ]

    typer.echo(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2))


@review_app.command("resolve")
def review_resolve(
    item: Annotated[int, typer.Argument(help="the review item's id")],
    officer: Annotated[str, typer.Option(help="the officer's sub, for the audit trail")],
    merge_into: Annotated[
        str | None, typer.Option(help="merge the item's other accounts into this sub")
    ] = None,
    not_same_person: Annotated[bool, typer.Option(help="the accounts belong to different people")] = False,
) -> None:
    """Resolves a review item: merge into a chosen account, or record that they are different people."""
    from broker.admin import reviews

    async def run() -> reviews.Resolution:
        async with command_registry() as registry:
            return await reviews.resolve(
                registry, item, officer=officer, merge_into=merge_into, not_same_person=not_same_person
            )

    try:
        done = asyncio.run(run())
    except reviews.ReviewError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    typer.echo(json.dumps(done.__dict__, ensure_ascii=False))


@accounts_app.command("freeze")
def accounts_freeze() -> None:
    """Freezes unlinked legacy citizen accounts once BROKER_UNLINKED_LEGACY_FROZEN_FROM has passed (cron)."""
    from broker.admin import freeze

    async def run() -> int:
        async with command_registry() as registry:
            return await freeze.freeze_unlinked(registry)

    typer.echo(json.dumps({"frozen": asyncio.run(run())}))


@maintenance_app.command("purge")
def maintenance_purge(
    older_than_hours: Annotated[int, typer.Option(min=1, help="keep what ended less than this ago")] = 24,
    batch: Annotated[int, typer.Option(min=1, help="rows per transaction")] = 1000,
) -> None:
    """Removes expired login flows, codes, refresh tokens, ended sessions, used client-assertion ids and
    settled deliveries, in batches of short transactions (logins go on meanwhile)."""
    from datetime import timedelta

    from broker.admin import purge

    async def run() -> dict[str, int]:
        async with command_registry() as registry:
            return await purge.purge(registry, timedelta(hours=older_than_hours), batch)

    typer.echo(json.dumps(asyncio.run(run())))


@keys_app.command("rewrap")
def keys_rewrap() -> None:
    """Re-wraps every stored private key under the newest key-encryption key (the first of
    BROKER_KEY_ENCRYPTION_KEY or its file), and seals any key still in clear. Run after putting a new
    key-encryption key first; drop the old one once this has succeeded (docs/operations.md)."""
    from broker.store import keys

    async def run() -> dict[str, int]:
        async with command_registry() as registry, registry.db.transaction() as session:
            return dict(await keys.rewrap_all(session))

    typer.echo(json.dumps(asyncio.run(run())))
