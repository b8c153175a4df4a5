"""Case 3, decided by the citizen: several legacy accounts carry their numbers and agree with VNeID;
they see them (masked) and keep one. The others are merged into it, and the VNeID identity linked to it,
in one transaction with the code that ends the login."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from broker.domain.identity import VerifiedIdentity
from broker.domain.identity_numbers import mask
from broker.domain.login_flow import FlowState
from broker.errors import LoginFlowError
from broker.login import flow_guard
from broker.login.complete import complete
from broker.login.link_account import link_identity
from broker.login.outcomes import Redirect
from broker.registry import Registry
from broker.store import accounts, legacy
from broker.store.merges import Checkpoint, merge_accounts, no_checkpoint
from broker.store.tables import LoginFlow


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
) -> Redirect:
    flow = await _choosing(registry, flow_id, browser)
    if keep_id not in flow.candidate_account_ids or flow.pending_identity is None:
        raise LoginFlowError("choice_not_offered")
    identity = VerifiedIdentity.from_json(flow.pending_identity)
    now = registry.clock()
    async with registry.db.transaction() as session:
        locked = {account.id: account for account in await accounts.lock(session, flow.candidate_account_ids)}
        keep = locked[keep_id]
        retired = [account for account_id, account in locked.items() if account_id != keep_id]
        await merge_accounts(
            session,
            keep,
            retired,
            at=now,
            actor=f"citizen:{keep.sub}",
            reason="citizen_choice",
            checkpoint=checkpoint,
        )
        await link_identity(session, keep, identity, registry, "citizen_choice")
        await flow_guard.advance(
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
        return await complete(registry, session, flow.id)


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
