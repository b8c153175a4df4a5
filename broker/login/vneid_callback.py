"""Step 3: the upstream sent the browser back. Exchange the code at once through the flow's upstream
adapter, map its claims, check the level, resolve the account, then issue a code.

Every refusal (the upstream's error, a failed exchange, an identity the mapping refuses, a changed subject)
is audited with its reason and shown as a page; a citizen who cancelled at the upstream is told so and
may try again.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping

from broker.domain.identity import VerifiedIdentity
from broker.domain.login_flow import FlowState
from broker.errors import LoginFlowError, StoreConflict, StoreGuardFailed, UpstreamCancelled, UpstreamError
from broker.login import common_login, flow_guard, sso, upstream_logout
from broker.login.complete import complete
from broker.login.link_account import MustChoose, Refused, allowed, resolve_in
from broker.login.outcomes import Outcome, Page
from broker.login.vneid_start import redirect_uri
from broker.oidc import assurance
from broker.registry import Registry
from broker.store import accounts, audit, cleanup
from broker.store.tables import LoginFlow, LoginFlowRequirement
from broker.upstream.mapping import to_verified

log = logging.getLogger(__name__)


async def finish(registry: Registry, params: Mapping[str, str], browser: str | None) -> Outcome:
    flow, requirement = await flow_guard.load_with_requirement(registry, params.get("state"), browser)
    if flow.state != FlowState.UPSTREAM_PENDING or not flow.upstream_nonce or not flow.upstream_code_verifier:
        raise LoginFlowError("flow_not_pending")
    try:
        identity = await _identity(registry, flow, params)
        await sso.require_assurance(registry, flow, requirement, identity)
        try:
            settled = await _log_in(registry, flow, identity, requirement)
        except StoreConflict:
            # Concurrent first logins of one person race on the unique (issuer, subject) link: one wins,
            # the other runs again and finds the winner's account.
            settled = await _log_in(registry, flow, identity, requirement)
    except UpstreamCancelled:
        registry.metrics.logins.labels("vneid", "cancelled").inc()
        raise
    except UpstreamError as refused:
        await _audit_refusal(registry, flow, refused)
        raise
    if isinstance(settled, Refused):
        allowed(registry, settled)  # raises PolicyRefused, its audit row committed
    assert not isinstance(settled, Refused)
    return settled


async def _log_in(
    registry: Registry,
    flow: LoginFlow,
    identity: VerifiedIdentity,
    requirement: LoginFlowRequirement | None,
) -> Outcome | Refused:
    """The account resolved, the flow authenticated, the session opened and the code issued in one
    transaction (issue 7: it was three, each with its own BEGIN, COMMIT and reads of what the one before
    had just written); a returning citizen's, with nothing to change, as one statement
    (``common_login``). On PostgreSQL the account is looked up first, outside either."""
    try:
        lookup = None
        if registry.db.is_postgresql:
            lookup = await accounts.first_lookup_alone(
                registry.db,
                identity.issuer,
                identity.subject,
                identity.identification_number,
                identity.old_identification_number,
            )
            returning = await common_login.log_in(registry, flow, identity, requirement, lookup)
            if returning is not None:
                return returning
        return await _log_in_transaction(registry, flow, identity, requirement, lookup)
    except StoreGuardFailed as guard:  # the flow moved meanwhile (a replay, a double submit), or expired
        raise flow_guard.refused(guard) from None


async def _log_in_transaction(
    registry: Registry,
    flow: LoginFlow,
    identity: VerifiedIdentity,
    requirement: LoginFlowRequirement | None,
    lookup: accounts.FirstLookup | None,
) -> Outcome | Refused:
    now = registry.clock()
    async with registry.db.transaction() as session:
        units = (registry.settings.client_unit_codes.get(flow.client_id), identity.extra.get("unit_code"))
        resolution = await resolve_in(registry, session, identity, flow.link_account_id, units, lookup)
        if isinstance(resolution, Refused):
            return resolution  # its audit row commits with the transaction
        if isinstance(resolution, MustChoose):
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
        assert account.id is not None
        authenticated = common_login.authenticated_by(account.id, identity)
        amr = authenticated["amr"]
        if resolution.notice:  # a page first: the flow waits, authenticated, with the identity
            # whose upstream and logout URL the session opened after the page keeps (continue_login)
            await flow_guard.advance(
                session,
                flow.id,
                FlowState.AUTHENTICATED,
                now,
                **authenticated,
                pending_identity=identity.to_json(),
            )
        if not resolution.created:  # a new account was classified, and given its unit, at its INSERT
            # issue 9: the class follows the link; an account without a unit gets one
            await cleanup.after_vneid_login(
                session, account, *units, now, oldest_legacy=resolution.oldest_legacy
            )
        await accounts.defer_changes(session, account)  # what the login changed: with the flow's UPDATE
        await audit.append(session, **common_login.login_row(now, account.sub, identity))
        if resolution.notice:
            outcome: Outcome = Page(resolution.notice, flow.id)
        else:
            # Authenticated on the flow this request loaded; written to its row with the move to
            # COMPLETED (or FAILED), one UPDATE instead of two (issue 7).
            flow.state, flow.account_id, flow.auth_time = (
                FlowState.AUTHENTICATED,
                account.id,
                identity.auth_time,
            )
            flow.acr, flow.amr = identity.acr, amr
            outcome = await complete(
                registry,
                session,
                flow.id,
                loaded=flow,
                requirement=requirement,
                upstream=upstream_logout.noted(registry, identity),
                linked=True,  # it logged in through its link, found or made in this transaction
                authenticated=authenticated,
                account=account,
                # checked by the commit's one statement: a known citizen's callback sends no BEGIN
                move_at_commit=True,
            )
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
    return to_verified(raw, adapter.config, registry.clock(), acr_of=_broker_acr)


def _broker_acr(level: int) -> str:
    """The upstream's level in the broker's acr values (what relying parties see and ask for)."""
    return assurance.acr_for(level) or assurance.ACR_LEVEL_1


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
