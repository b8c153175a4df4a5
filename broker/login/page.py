"""What the login page shows for a flow: who is asking."""

from __future__ import annotations

from dataclasses import dataclass

from broker.login import flow_guard
from broker.registry import Registry
from broker.store import clients


@dataclass(frozen=True)
class LoginPage:
    flow_id: str
    client_name: str


async def describe(registry: Registry, flow_id: str | None, browser: str | None) -> LoginPage:
    flow = await flow_guard.load(registry, flow_id, browser)
    async with registry.db.read() as session:
        client = await clients.get(session, flow.client_id)
    return LoginPage(flow.id, client.name if client else flow.client_id)
