"""What every command shares: a registry for one command, JSON output, the acting operator."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Awaitable, Callable
from contextlib import asynccontextmanager
from typing import Any, TypeVar

import typer

from broker.settings import Settings

T = TypeVar("T")


def echo_json(document: object) -> None:
    typer.echo(json.dumps(document, ensure_ascii=False, indent=2))


def run_admin(action: Callable[[Any], Awaitable[T]]) -> T:
    from broker.admin import clients

    async def run() -> T:
        async with command_registry() as registry:
            return await action(registry)

    try:
        return asyncio.run(run())
    except clients.ClientRegistrationError as error:
        typer.echo(f"error: {error}", err=True)
        raise typer.Exit(2) from error


@asynccontextmanager
async def command_registry() -> AsyncIterator[Any]:
    """A registry for one CLI command, without the HTTP app around it."""
    from broker.wiring import build_registry, close_registry

    registry = build_registry(Settings())
    try:
        yield registry
    finally:
        await close_registry(registry)


def cli_actor() -> str:
    import getpass

    try:
        return f"cli:{getpass.getuser()}"
    except (KeyError, OSError):  # no login name in a bare container
        return "cli:unknown"
