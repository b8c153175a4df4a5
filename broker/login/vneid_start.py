"""Step 2: the citizen chose an upstream (VNeID, or another configured one). Bind a fresh nonce and PKCE
verifier and the chosen upstream to the flow, then go upstream. The flow's id is the upstream ``state``,
whatever the upstream supports besides: the broker's own guarantee that a callback belongs to this browser."""

from __future__ import annotations

from broker.domain.login_flow import FlowState
from broker.errors import LoginFlowError
from broker.login import flow_guard
from broker.login.ids import new_token
from broker.oidc.discovery import ACR_LEGACY
from broker.registry import Registry

CALLBACK_PATH = "/login/vneid/callback"


def redirect_uri(registry: Registry) -> str:
    """One callback for every upstream: the flow row says which upstream it came from."""
    return registry.settings.issuer + CALLBACK_PATH


async def start(
    registry: Registry, flow_id: str | None, browser: str | None, upstream_id: str | None = None
) -> str:
    """Returns the chosen upstream's authorization URL."""
    adapter = registry.upstreams.get(upstream_id or None)
    if adapter is None:
        raise LoginFlowError("upstream_unknown")
    flow, requirement = await flow_guard.load_with_requirement(registry, flow_id, browser)
    nonce, verifier = new_token(), new_token()
    # After a legacy password, going to VNeID means "link my VNeID to this account": the password is the
    # proof, bound to this flow and used once.
    link_to = flow.account_id if flow.state == FlowState.AUTHENTICATED and flow.acr == ACR_LEGACY else None
    if flow.state == FlowState.AUTHENTICATED and link_to is None:
        raise LoginFlowError("flow_finished")
    await flow_guard.advance_alone(  # one statement, its own transaction
        registry.db,
        flow.id,
        FlowState.UPSTREAM_PENDING,
        registry.clock(),
        "flow_finished",
        upstream_nonce=nonce,
        upstream_code_verifier=verifier,
        link_account_id=link_to,
        upstream_id=adapter.id,
    )
    # A forced fresh login (prompt=login, max_age) is forced upstream too; a level-2 requirement is asked for.
    fresh = bool(flow.prompt and "login" in flow.prompt.split()) or bool(
        requirement and requirement.force_login
    )
    return await adapter.authorization_url(
        redirect_uri=redirect_uri(registry),
        state=flow.id,
        nonce=nonce,
        code_verifier=verifier,
        prompt="login" if fresh else None,
        level=requirement.min_level if requirement else 1,
    )
