"""`broker audit`: checks of the append-only, hash-chained audit trail."""

from __future__ import annotations

import asyncio

import typer

from broker.cli.support import command_registry, echo_json

audit_app = typer.Typer(help="The audit trail.", no_args_is_help=True)


@audit_app.command("verify")
def audit_verify() -> None:
    """Walks the hash chain of the audit trail and names the first edited, deleted or reordered record.

    Prints one JSON object (``ok``, ``checked``, ``head``, ``first_break``); exits 1 when the chain is
    broken. Keep ``head`` somewhere else: a later run whose chain no longer passes through it shows that
    records were removed from the end."""
    from broker.admin import audit_trail

    async def run():  # type: ignore[no-untyped-def]
        async with command_registry() as registry:
            return await audit_trail.verify(registry)

    result = asyncio.run(run())
    broken = result.first_break
    echo_json(
        {
            "ok": broken is None,
            "checked": result.checked,
            "head": result.head,
            "first_break": None if broken is None else {"id": broken.id, "problem": broken.problem},
        }
    )
    if broken is not None:
        raise typer.Exit(1)
