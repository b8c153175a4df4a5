"""The last step of every successful login (VNeID, legacy password, a Case 3 choice, a page read): the
policy is asked once more for the account the flow ends in, then the browser's SSO session is opened or
renewed, and the flow becomes a code for the RP, in the caller's transaction, which commits before the
redirect that carries the code."""

from __future__ import annotations

from typing import Any

from broker.domain.accounts import LoginMethod
from broker.domain.login_flow import FlowState
from broker.errors import LoginFlowError
from broker.login import account_state, issue_code, sso
from broker.login.outcomes import Outcome, Page, Redirect
from broker.login.sso import UNREAD, Unread
from broker.oidc.discovery import ACR_LEGACY
from broker.registry import Registry
from broker.store import accounts, audit, flows
from broker.store.database import Session
from broker.store.tables import Account, LoginFlow, LoginFlowRequirement


async def complete(
    registry: Registry,
    session: Session,
    flow_id: str,
    *,
    loaded: LoginFlow | None = None,
    requirement: LoginFlowRequirement | Unread | None = UNREAD,
    upstream: tuple[str, str | None] | None = None,
    linked: bool | None = None,
    authenticated: dict[str, Any] | None = None,
    account: Account | None = None,
    move_at_commit: bool = False,
) -> Outcome:
    """``loaded``: the flow as this transaction left it, when the caller has it (not read again);
    ``requirement``: the flow's requirement, when the caller read it already; ``upstream``: the upstream
    and its logout URL, kept with the session (``upstream_logout.noted``); ``linked``: True when the
    caller's transaction found or made the account's link; ``authenticated``: the flow's columns that
    authenticate it, not written yet (``loaded`` has them): written with its next move (issue 7);
    ``account``: the flow's account as this transaction holds it, when the caller has it (not looked up
    again); ``move_at_commit``: the flow's move to COMPLETED is checked by the transaction's last statement
    (``issue_code.issue``)."""
    flow = loaded if loaded is not None and loaded.id == flow_id else await flows.get(session, flow_id)
    if flow is None or flow.account_id is None or flow.auth_time is None or flow.acr is None:
        raise LoginFlowError("flow_not_authenticated")
    if account is None or account.id != flow.account_id:
        account = await accounts.get(session, flow.account_id)
    if account is None:
        raise LoginFlowError("flow_not_authenticated")
    now = registry.clock()
    method = LoginMethod.LEGACY_PASSWORD if flow.acr == ACR_LEGACY else LoginMethod.VNEID
    decision = await account_state.may_log_in(registry, session, account, method, now, linked)
    if not decision.allowed:
        # Disabled or merged meanwhile (or by a path that did not ask): no session, no code.
        await flows.move(
            session,
            flow.id,
            FlowState.FAILED,
            now,
            failure_reason=decision.reason.value,
            **(authenticated or {}),
        )
        await audit.append(
            session,
            at=now,
            actor=f"citizen:{account.sub}",
            action=f"login.{method.value}",
            outcome="refused",
            reason=decision.reason,
            sub=account.sub,
        )
        registry.metrics.logins.labels(method.value, decision.reason).inc()
        return Page("account_refused", flow.id, reason=decision.reason)
    opened = await sso.open_session(
        registry,
        session,
        flow,
        account,
        auth_time=flow.auth_time,
        acr=flow.acr,
        amr=list(flow.amr),
        requirement=requirement,
        upstream=upstream,
    )
    url = await issue_code.issue(
        registry,
        session,
        flow.id,
        sid=opened.sid,
        loaded=flow,
        authenticated=authenticated,
        move_at_commit=move_at_commit,
    )
    return Redirect(url, opened.cookie)
