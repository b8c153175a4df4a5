"""`broker roles`: staff roles on VNeID-linked accounts."""

from __future__ import annotations

import asyncio
import json
from typing import Annotated

import typer

from broker.cli.support import cli_actor, command_registry

roles_app = typer.Typer(help="Staff roles: ops_admin, one_stop_officer, auditor.", no_args_is_help=True)

RoleOption = Annotated[str, typer.Option(help="ops_admin, one_stop_officer or auditor")]
SubOption = Annotated[str | None, typer.Option(help="the account's sub")]
NumberOption = Annotated[
    str | None, typer.Option(help="or the account's 12-digit personal number (audited masked)")
]
ActorOption = Annotated[str | None, typer.Option(help="who acts, for the audit trail (default: cli:$USER)")]


@roles_app.command("grant")
def roles_grant(
    role: RoleOption,
    sub: SubOption = None,
    identification_number: NumberOption = None,
    actor: ActorOption = None,
) -> None:
    """Grants a role to a citizen account linked to VNeID; prints {sub, role, changed}."""
    _change_role("grant", role, sub, identification_number, actor)


@roles_app.command("revoke")
def roles_revoke(
    role: RoleOption,
    sub: SubOption = None,
    identification_number: NumberOption = None,
    actor: ActorOption = None,
) -> None:
    """Revokes a role; it stops working at once, even in unexpired access tokens."""
    _change_role("revoke", role, sub, identification_number, actor)


@roles_app.command("list")
def roles_list(sub: SubOption = None) -> None:
    """Lists role holders (or one account's roles) as JSON."""
    from broker.admin import roles

    async def run() -> list[dict[str, str]]:
        async with command_registry() as registry:
            return [
                {
                    "sub": h.sub,
                    "role": h.role,
                    "granted_by": h.granted_by,
                    "granted_at": h.granted_at.isoformat(),
                }
                for h in await roles.holders(registry, sub)
            ]

    typer.echo(json.dumps(asyncio.run(run()), ensure_ascii=False, indent=2))


def _change_role(verb: str, role: str, sub: str | None, number: str | None, actor: str | None) -> None:
    from broker.admin import roles

    target = roles.Target(sub=sub, identification_number=number)
    change = roles.grant if verb == "grant" else roles.revoke

    async def run() -> roles.RoleChange:
        async with command_registry() as registry:
            return await change(registry, actor=actor or cli_actor(), role=role, target=target)

    try:
        done = asyncio.run(run())
    except roles.RoleError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error
    typer.echo(json.dumps({"sub": done.sub, "role": done.role, "changed": done.changed}))
