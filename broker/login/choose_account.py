"""Case 3, decided by the citizen: several legacy accounts carry their numbers and agree with VNeID;
they see them (masked) and keep one. The others are merged into it, and the VNeID identity linked to it,
in one transaction with the code that ends the login."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from urllib.parse import urlencode

from broker.domain.identity import VerifiedIdentity
from broker.domain.identity_numbers import mask
from broker.domain.login_flow import FlowState
from broker.errors import LoginFlowError
from broker.login import flow_guard, upstream_logout
from broker.login.complete import complete
from broker.login.link_account import link_identity
from broker.login.outcomes import Outcome, Redirect
from broker.registry import Registry
from broker.store import accounts, flows, legacy
from broker.store.database import Session
from broker.store.merges import Checkpoint, MergeRefused, merge_accounts, no_checkpoint
from broker.store.tables import Account, LoginFlow


@dataclass(frozen=True)
class Candidate:
    account_id: int
    source_system: str
    username: str  # masked
    created_at: datetime | None


async def candidates(registry: Registry, flow_id: str | None, browser: str | None) -> list[Candidate]:
    flow = await _choosing(registry, flow_id, browser)
    shown: list[Candidate] = []
    async with registry.db.read() as session:
        for account_id in flow.candidate_account_ids:
            for record in await legacy.for_account(session, account_id):
                shown.append(
                    Candidate(
                        account_id,
                        record.source_system,
                        _mask_username(record.username),
                        record.source_created_at,
                    )
                )
    return shown


async def choose(
    registry: Registry,
    flow_id: str | None,
    browser: str | None,
    keep_id: int,
    checkpoint: Checkpoint = no_checkpoint,
) -> Outcome:
    """Merges the others into the chosen account, links the identity to it, and ends the login there.

    Two submits at once (a double click, or the same person choosing in two browsers) are serialised by
    the row locks on the candidates: the second finds them merged already and lands where the first did,
    in the surviving account; a double submit of one flow is sent back through /authorize, which answers
    from the session the first submit opened."""
    flow = await flow_guard.load(registry, flow_id, browser)
    if flow.state in (FlowState.AUTHENTICATED, FlowState.COMPLETED) and flow.candidate_account_ids:
        return Redirect(_authorize_again(registry, flow))
    if flow.state != FlowState.CHOOSING:
        raise LoginFlowError("flow_not_choosing")
    if keep_id not in flow.candidate_account_ids or flow.pending_identity is None:
        raise LoginFlowError("choice_not_offered")
    identity = VerifiedIdentity.from_json(flow.pending_identity)
    now = registry.clock()
    async with registry.db.transaction() as session:
        locked = {account.id: account for account in await accounts.lock(session, flow.candidate_account_ids)}
        keep = await _survivor(session, locked[keep_id])
        retired: dict[int | None, Account] = {}
        for account in locked.values():
            survivor = await _survivor(session, account)
            if survivor.id != keep.id:
                retired[survivor.id] = survivor
        try:
            await merge_accounts(
                session,
                keep,
                list(retired.values()),
                at=now,
                actor=f"citizen:{keep.sub}",
                reason="citizen_choice",
                checkpoint=checkpoint,
            )
        except MergeRefused as refused:
            raise LoginFlowError(f"merge_refused_{refused.reason}") from refused
        linked = await accounts.find_by_upstream(session, identity.issuer, identity.subject)
        if linked is None:
            await link_identity(session, keep, identity, registry, "citizen_choice")
        elif linked.id != keep.id:
            raise LoginFlowError("merge_refused_identity_elsewhere")
        moved = await flows.move(
            session,
            flow.id,
            FlowState.AUTHENTICATED,
            now,
            account_id=keep.id,
            auth_time=identity.auth_time,
            acr=identity.acr,
            amr=list(identity.amr) or ["pwd"],
            pending_identity=None,
        )
        if not moved:
            # This flow's other submit finished first (and merged and linked already): the same place.
            return Redirect(_authorize_again(registry, flow))
        # The identity kept on the flow carries the upstream and its logout URL: the session this opens
        # is ended at the upstream too, as one a login without a choice opens is.
        return await complete(registry, session, flow.id, upstream=upstream_logout.noted(registry, identity))


async def _survivor(session: Session, account: Account) -> Account:
    """The account ``account`` now lives in (itself, unless merged away)."""
    current: Account | None = account
    while current is not None and current.merged_into_id is not None:
        current = await accounts.get(session, current.merged_into_id)
    return current or account


def _authorize_again(registry: Registry, flow: LoginFlow) -> str:
    """The relying party's own request once more: answered at once from the browser's SSO session."""
    params = {
        "response_type": "code",
        "client_id": flow.client_id,
        "redirect_uri": flow.redirect_uri,
        "scope": flow.scope,
        "state": flow.rp_state,
        "nonce": flow.nonce,
        "code_challenge": flow.code_challenge,
        "code_challenge_method": "S256",
    }
    query = urlencode({name: value for name, value in params.items() if value is not None})
    return f"{registry.settings.issuer}/authorize?{query}"


async def _choosing(registry: Registry, flow_id: str | None, browser: str | None) -> LoginFlow:
    flow = await flow_guard.load(registry, flow_id, browser)
    if flow.state != FlowState.CHOOSING:
        raise LoginFlowError("flow_not_choosing")
    return flow


def _mask_username(username: str) -> str:
    """Enough for the citizen to recognise an account, not enough to read anyone's number or email."""
    if username.isdigit():
        return mask(username)
    name, at, domain = username.partition("@")
    visible = name[:2] + "*" * max(len(name) - 2, 1)
    return visible + (at + domain if at else "")
