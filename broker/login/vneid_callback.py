"""Step 3: VNeID sent the browser back. Verify everything, find or create the account, issue a code."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from broker.domain.identity_numbers import mask
from broker.domain.login_flow import FlowState
from broker.errors import LoginFlowError, UpstreamError
from broker.login import flow_guard, issue_code, sso
from broker.login.link_account import account_for
from broker.registry import Registry
from broker.store import flows

log = logging.getLogger(__name__)


async def finish(registry: Registry, params: Mapping[str, str], browser: str | None) -> sso.SignedIn:
    """Returns the URL that carries the authorization code back to the RP, and the SSO session cookie."""
    flow = await flow_guard.load(registry, params.get("state"), browser)
    if flow.state != FlowState.UPSTREAM_PENDING or not flow.upstream_nonce or not flow.upstream_code_verifier:
        raise LoginFlowError("flow_not_pending")
    if "error" in params:
        # The citizen cancelled at VNeID, or VNeID refused: they may try again or go back to the RP.
        raise UpstreamError("upstream_refused", params["error"][:64])
    code = params.get("code")
    if not code:
        raise UpstreamError("upstream_no_code")
    identity = await registry.vneid.authenticate(
        code=code, code_verifier=flow.upstream_code_verifier, nonce=flow.upstream_nonce
    )
    await sso.require_assurance(registry, flow, identity)
    account = await account_for(registry, identity)
    async with registry.db.transaction() as session:
        moved = await flows.move(
            session,
            flow.id,
            FlowState.AUTHENTICATED,
            registry.clock(),
            account_id=account.id,
            auth_time=identity.auth_time,
            acr=identity.acr,
            amr=list(identity.amr) or ["pwd"],
        )
        if not moved:
            raise LoginFlowError("flow_replayed")
        opened = await sso.open_session(registry, session, flow, account, identity)
        url = await issue_code.issue(registry, session, flow.id, sid=opened.sid)
    registry.metrics.logins.labels("vneid", "success").inc()
    log.info(
        "vneid login: account=%s number=%s level=%s",
        account.sub,
        mask(identity.identification_number),
        identity.level,
    )
    return sso.SignedIn(url, opened.cookie)
