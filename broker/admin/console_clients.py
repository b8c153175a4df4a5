"""The relying parties, read-only, for ops_admin: who is registered, where they may be sent back to, how
each authenticates, which access tokens it gets, and when each last had a token issued."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from broker.admin.console_auth import Officer
from broker.admin.roles import Role
from broker.oidc import access_tokens
from broker.registry import Registry
from broker.store import clients
from broker.store import console as console_store


@dataclass(frozen=True)
class ClientView:
    client_id: str
    name: str
    redirect_uris: list[str]
    post_logout_redirect_uris: list[str]
    auth_method: str
    access_token_format: str  # what its tokens are now: its own format, or the broker's default
    access_token_format_is_default: bool
    created_at: datetime
    last_use: datetime | None
    disabled: bool


def may_see(officer: Officer) -> bool:
    return Role.OPS_ADMIN in officer.roles


async def registered(registry: Registry) -> list[ClientView]:
    async with registry.db.read() as session:
        rows = await clients.list_all(session)
        last_use = await console_store.client_last_use(session)
    return [
        ClientView(
            client.client_id,
            client.name,
            list(client.redirect_uris),
            list(client.post_logout_redirect_uris or []),
            client.token_endpoint_auth_method,
            access_tokens.format_for(client.access_token_format, registry.settings.access_token_format),
            client.access_token_format is None,
            client.created_at,
            last_use.get(client.client_id),
            client.disabled_at is not None,
        )
        for client in rows
    ]
