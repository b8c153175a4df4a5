"""Step 3: the upstream sent the browser back. Exchange the code at once through the flow's upstream
adapter, map its claims, check the level, resolve the account, then issue a code.

Every refusal (the upstream's error, a failed exchange, an identity the mapping refuses, a changed subject)
is audited with its reason and shown as a page; a citizen who cancelled at the upstream is told so and
may try again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from dataclasses import replace

from broker.domain.identity import VerifiedIdentity
from broker.domain.identity_numbers import mask
from broker.domain.login_flow import FlowState
from broker.errors import LoginFlowError, UpstreamCancelled, UpstreamError
from broker.login import flow_guard, sso, upstream_logout
from broker.login.complete import complete
from broker.login.link_account import MustChoose, account_for
from broker.login.outcomes import Outcome, Page, Redirect
from broker.login.vneid_start import redirect_uri
from broker.oidc import assurance
from broker.registry import Registry
from broker.store import audit, cleanup
from broker.store.tables import LoginFlow
from broker.upstream.mapping import to_verified

log = logging.getLogger(__name__)


async def finish(registry: Registry, params: Mapping[str, str], browser: str | None) -> Outcome:
    flow = await flow_guard.load(registry, params.get("state"), browser)
    if flow.state != FlowState.UPSTREAM_PENDING or not flow.upstream_nonce or not flow.upstream_code_verifier:
        raise LoginFlowError("flow_not_pending")
    try:
        identity = await _identity(registry, flow, params)
        await sso.require_assurance(registry, flow, identity)
        resolution = await account_for(registry, identity, flow.link_account_id)
    except UpstreamCancelled:
        registry.metrics.logins.labels("vneid", "cancelled").inc()
        raise
    except UpstreamError as refused:
        await _audit_refusal(registry, flow, refused)
        raise
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
            details={
                "identification_number": mask(identity.identification_number),
                "level": identity.level,
                "upstream": identity.extra.get("upstream"),
            },
        )
        outcome: Outcome = (
            Page(resolution.notice, flow.id)
            if resolution.notice
            else await complete(registry, session, flow.id)
        )
        if isinstance(outcome, Redirect):
            await upstream_logout.remember(registry, session, outcome, identity)
    registry.metrics.logins.labels("vneid", "success").inc()
    log.info("upstream login: account=%s level=%s", account.sub, identity.level)
    return outcome


async def _identity(registry: Registry, flow: LoginFlow, params: Mapping[str, str]) -> VerifiedIdentity:
    adapter = registry.upstreams.get(flow.upstream_id)
    if adapter is None:
        raise UpstreamError("upstream_unknown")  # configuration changed while the citizen was away
    if "error" in params:
        if params["error"] == "access_denied":
            raise UpstreamCancelled("upstream_cancelled")
        raise UpstreamError("upstream_refused", params["error"][:64])
    assert flow.upstream_nonce and flow.upstream_code_verifier
    raw = await adapter.exchange(
        params,
        redirect_uri=redirect_uri(registry),
        code_verifier=flow.upstream_code_verifier,
        nonce=flow.upstream_nonce,
    )
    identity = to_verified(raw, adapter.config, registry.clock())
    # The upstream's level, in the broker's acr values (what relying parties see and ask for).
    return replace(identity, acr=assurance.acr_for(identity.level) or assurance.ACR_LEVEL_1)


async def _audit_refusal(registry: Registry, flow: LoginFlow, refused: UpstreamError) -> None:
    async with registry.db.transaction() as session:
        await audit.append(
            session,
            at=registry.clock(),
            actor="anonymous",
            action="login.vneid",
            outcome="refused",
            reason=refused.reason,
            details={"upstream": flow.upstream_id or registry.upstreams.default.id},
        )
