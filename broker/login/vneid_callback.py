"""Step 3: VNeID sent the browser back. Verify everything, resolve the account, then issue a code."""

from __future__ import annotations

import logging
from collections.abc import Mapping

from broker.domain.identity_numbers import mask
from broker.domain.login_flow import FlowState
from broker.errors import LoginFlowError, UpstreamError
from broker.login import flow_guard, sso
from broker.login.complete import complete
from broker.login.link_account import MustChoose, account_for
from broker.login.outcomes import Outcome, Page
from broker.registry import Registry
from broker.store import audit, cleanup

log = logging.getLogger(__name__)


async def finish(registry: Registry, params: Mapping[str, str], browser: str | None) -> Outcome:
    flow = await flow_guard.load(registry, params.get("state"), browser)
    if flow.state != FlowState.UPSTREAM_PENDING or not flow.upstream_nonce or not flow.upstream_code_verifier:
        raise LoginFlowError("flow_not_pending")
    if "error" in params:
        # The citizen cancelled at VNeID, or VNeID refused: they may try again or go back to the RP.
        raise UpstreamError("upstream_refused", params["error"][:64])
    code = params.get("code")
    if not code:
        raise UpstreamError("upstream_no_code")
    try:
        identity = await registry.vneid.authenticate(
            code=code, code_verifier=flow.upstream_code_verifier, nonce=flow.upstream_nonce
        )
    except UpstreamError as refused:
        async with registry.db.transaction() as session:
            await audit.append(
                session,
                at=registry.clock(),
                actor="anonymous",
                action="login.vneid",
                outcome="refused",
                reason=refused.reason,
            )
        raise
    await sso.require_assurance(registry, flow, identity)
    resolution = await account_for(registry, identity, flow.link_account_id)
    now = registry.clock()
    if isinstance(resolution, MustChoose):
        async with registry.db.transaction() as session:
            await flow_guard.advance(
                session,
                flow.id,
                FlowState.CHOOSING,
                now,
                pending_identity=identity.to_json(),
                candidate_account_ids=resolution.candidate_ids,
            )
        return Page("choose_account", flow.id)
    account = resolution.account
    async with registry.db.transaction() as session:
        await flow_guard.advance(
            session,
            flow.id,
            FlowState.AUTHENTICATED,
            now,
            account_id=account.id,
            auth_time=identity.auth_time,
            acr=identity.acr,
            amr=list(identity.amr) or ["pwd"],
        )
        await cleanup.after_vneid_login(  # issue 9: class follows the link; a new account gets a unit
            session,
            account.id,
            registry.settings.client_unit_codes.get(flow.client_id),
            identity.extra.get("unit_code"),
            now,
        )
        await audit.append(
            session,
            at=now,
            actor=f"citizen:{account.sub}",
            action="login.vneid",
            outcome="allowed",
            sub=account.sub,
            details={"identification_number": mask(identity.identification_number), "level": identity.level},
        )
        outcome: Outcome = (
            Page(resolution.notice, flow.id)
            if resolution.notice
            else await complete(registry, session, flow.id)
        )
    registry.metrics.logins.labels("vneid", "success").inc()
    log.info("vneid login: account=%s level=%s", account.sub, identity.level)
    return outcome
