"""The citizen gave up: the flow fails and the RP hears ``access_denied`` (RFC 6749 §4.1.2.1)."""

from __future__ import annotations

from broker.domain.login_flow import FlowState
from broker.errors import AccessDenied
from broker.login import flow_guard
from broker.oidc import authorize
from broker.registry import Registry


async def cancel(registry: Registry, flow_id: str | None, browser: str | None) -> str:
    flow = await flow_guard.load(registry, flow_id, browser)
    async with registry.db.transaction() as session:
        await flow_guard.advance(
            session, flow.id, FlowState.FAILED, registry.clock(), "flow_finished", failure_reason="cancelled"
        )
    registry.metrics.logins.labels("vneid", "cancelled").inc()
    error = AccessDenied("the user cancelled the login")
    return authorize.error_url(flow.redirect_uri, error, flow.rp_state, registry.settings.issuer)
