"""Step 4: an authenticated flow becomes a single-use authorization code for the RP.

The code is written in the caller's transaction, which commits before the redirect that carries it.
"""

from __future__ import annotations

from datetime import datetime
from typing import Any

from broker.clock import seconds
from broker.domain.login_flow import FlowState
from broker.errors import LoginFlowError
from broker.login import flow_guard
from broker.login.ids import digest, new_token
from broker.oidc import authorize
from broker.registry import Registry
from broker.store import flows, grants
from broker.store.database import Session
from broker.store.tables import LoginFlow


async def issue(
    registry: Registry,
    session: Session,
    flow_id: str,
    sid: str | None = None,
    loaded: LoginFlow | None = None,
    authenticated: dict[str, Any] | None = None,
    move_at_commit: bool = False,
) -> str:
    """``sid``: the SSO session the code belongs to; the client joins it (to hear of its logout).
    ``loaded``: the flow as this transaction left it, when the caller has it (not read again);
    ``authenticated``: the columns that authenticate it, when the caller has not written them: the flow
    goes through AUTHENTICATED to COMPLETED in one UPDATE. ``move_at_commit``: that UPDATE is checked by
    the transaction's last statement (``flow_guard.advance_at_commit``): the caller turns its
    ``StoreGuardFailed`` into the refusal (``flow_guard.refused``)."""
    flow = loaded if loaded is not None and loaded.id == flow_id else await flows.get(session, flow_id)
    if flow is None or flow.account_id is None or flow.auth_time is None or flow.acr is None:
        raise LoginFlowError("flow_not_authenticated")
    now = registry.clock()
    via = FlowState.AUTHENTICATED if authenticated else None
    advance = flow_guard.advance_at_commit if move_at_commit else flow_guard.advance
    await advance(session, flow.id, FlowState.COMPLETED, now, via=via, **(authenticated or {}))
    url, columns = new_code(registry, flow, sid, now)
    # The code carries ``sid``: its insert also makes the client a participant of that session.
    await grants.add_code(session, **columns)
    return url


def new_code(
    registry: Registry,
    flow: LoginFlow,
    sid: str | None,
    now: datetime,
    authenticated: dict[str, Any] | None = None,
) -> tuple[str, dict[str, Any]]:
    """The code of an authenticated flow: the redirect that carries it to the RP, and its row's columns.
    ``authenticated``: the columns that authenticate the flow (its account, login time, level, methods),
    when the flow object does not hold them (setting them on it costs more than the code)."""
    if authenticated is not None:
        account_id, auth_time = authenticated["account_id"], authenticated["auth_time"]
        acr, amr = authenticated["acr"], authenticated["amr"]
    else:
        account_id, auth_time, acr, amr = flow.account_id, flow.auth_time, flow.acr, flow.amr
    assert account_id is not None
    code = new_token()
    columns = {
        "code_hash": digest(code),
        "grant_id": new_token(),
        "client_id": flow.client_id,
        "redirect_uri": flow.redirect_uri,
        "account_id": account_id,
        "scope": flow.scope,
        "nonce": flow.nonce,
        "code_challenge": flow.code_challenge,
        "auth_time": auth_time,
        "acr": acr,
        "amr": list(amr),
        "created_at": now,
        "expires_at": now + seconds(registry.settings.authorization_code_ttl_seconds),
        "sid": sid,
    }
    url = authorize.response_url(
        flow.redirect_uri, {"code": code, "state": flow.rp_state, "iss": registry.settings.issuer}
    )
    return url, columns
