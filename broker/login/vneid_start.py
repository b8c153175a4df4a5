"""Step 2: the citizen chose VNeID. Bind a fresh nonce and PKCE verifier to the flow, then go upstream."""

from __future__ import annotations

from broker.domain.login_flow import FlowState
from broker.errors import LoginFlowError
from broker.login import flow_guard
from broker.login.ids import new_token
from broker.oidc import assurance
from broker.oidc.discovery import ACR_LEGACY
from broker.registry import Registry
from broker.store import flow_requirements


async def start(registry: Registry, flow_id: str | None, browser: str | None) -> str:
    """Returns VNeID's authorization URL; the flow's id is the upstream ``state``."""
    flow = await flow_guard.load(registry, flow_id, browser)
    nonce, verifier = new_token(), new_token()
    # After a legacy password, going to VNeID means "link my VNeID to this account": the password is the
    # proof, bound to this flow and used once.
    link_to = flow.account_id if flow.state == FlowState.AUTHENTICATED and flow.acr == ACR_LEGACY else None
    if flow.state == FlowState.AUTHENTICATED and link_to is None:
        raise LoginFlowError("flow_finished")
    async with registry.db.transaction() as session:
        await flow_guard.advance(
            session,
            flow.id,
            FlowState.UPSTREAM_PENDING,
            registry.clock(),
            "flow_finished",
            upstream_nonce=nonce,
            upstream_code_verifier=verifier,
            link_account_id=link_to,
        )
        requirement = await flow_requirements.get(session, flow.id)
    # A forced fresh login (prompt=login, max_age) is forced upstream too; a level-2 requirement is asked for.
    fresh = bool(flow.prompt and "login" in flow.prompt.split()) or bool(
        requirement and requirement.force_login
    )
    min_level = requirement.min_level if requirement else 1
    return await registry.vneid.authorization_url(
        state=flow.id,
        nonce=nonce,
        code_verifier=verifier,
        prompt="login" if fresh else None,
        acr_values=assurance.acr_for(min_level) if min_level >= 2 else None,
    )
