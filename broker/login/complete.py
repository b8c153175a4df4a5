"""The last step of every successful login (VNeID, legacy password, a Case 3 choice, a page read): the
browser's SSO session is opened or renewed, and the flow becomes a code for the RP, in the caller's
transaction, which commits before the redirect that carries the code."""

from __future__ import annotations

from broker.errors import LoginFlowError
from broker.login import issue_code, sso
from broker.login.outcomes import Redirect
from broker.registry import Registry
from broker.store import accounts, flows
from broker.store.database import Session


async def complete(registry: Registry, session: Session, flow_id: str) -> Redirect:
    flow = await flows.get(session, flow_id)
    if flow is None or flow.account_id is None or flow.auth_time is None or flow.acr is None:
        raise LoginFlowError("flow_not_authenticated")
    account = await accounts.get(session, flow.account_id)
    if account is None:
        raise LoginFlowError("flow_not_authenticated")
    opened = await sso.open_session(
        registry, session, flow, account, auth_time=flow.auth_time, acr=flow.acr, amr=list(flow.amr)
    )
    url = await issue_code.issue(registry, session, flow.id, sid=opened.sid)
    return Redirect(url, opened.cookie)
