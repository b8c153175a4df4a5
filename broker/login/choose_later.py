"""Case 3, "decide later": the citizen with several agreeing legacy accounts does not choose now.

They log in to the best-matching account (linked to their VNeID identity, as in the officer's path),
nothing is merged, and the group goes to the officers' review queue; the account is marked so that the
citizen's later logins remind them that a decision is pending."""

from __future__ import annotations

from broker.domain.identity import VerifiedIdentity
from broker.domain.identity_numbers import mask
from broker.domain.login_flow import FlowState
from broker.domain.matching import LegacyFacts, match_score
from broker.errors import LoginFlowError
from broker.login import flow_guard, upstream_logout
from broker.login.complete import complete
from broker.login.link_account import link_identity
from broker.login.outcomes import Outcome
from broker.registry import Registry
from broker.store import accounts, audit, legacy, reviews
from broker.store.tables import ReviewItem


async def decide_later(registry: Registry, flow_id: str | None, browser: str | None) -> Outcome:
    flow = await flow_guard.load(registry, flow_id, browser)
    if flow.state != FlowState.CHOOSING or flow.pending_identity is None:
        raise LoginFlowError("flow_not_choosing")
    identity = VerifiedIdentity.from_json(flow.pending_identity)
    now = registry.clock()
    async with registry.db.transaction() as session:
        members = await accounts.lock(session, flow.candidate_account_ids)
        scored = []
        for account in members:
            assert account.id is not None
            records = await legacy.for_account(session, account.id)
            facts = [LegacyFacts(r.full_name, r.birth_date, r.cmnd, r.cccd) for r in records]
            scored.append((max((match_score(f, identity) for f in facts), default=0), -account.id, account))
        best = max(scored, key=lambda entry: entry[:2])[2]
        # The flow moves first: a double submit finds it moved and is refused before anything is written.
        await flow_guard.advance(
            session,
            flow.id,
            FlowState.AUTHENTICATED,
            now,
            account_id=best.id,
            auth_time=identity.auth_time,
            acr=identity.acr,
            amr=list(identity.amr) or ["pwd"],
            pending_identity=None,
        )
        await link_identity(session, best, identity, registry, "citizen_decides_later")
        best.needs_review = True
        await reviews.add(
            session,
            ReviewItem(
                kind="duplicate_accounts",
                account_ids=sorted(flow.candidate_account_ids),
                details={
                    "identification_number": mask(identity.identification_number),
                    "old_identification_number": mask(identity.old_identification_number),
                    "differences": {},
                    "logged_in_to": best.sub,
                    "reason": "citizen_decides_later",
                },
                created_at=now,
            ),
        )
        await audit.append(
            session,
            at=now,
            actor=f"citizen:{best.sub}",
            action="account.choose",
            outcome="deferred",
            reason="citizen_decides_later",
            sub=best.sub,
            details={"candidates": len(flow.candidate_account_ids)},
        )
        # As choose_account: the session keeps the upstream's logout URL the identity brought.
        return await complete(registry, session, flow.id, upstream=upstream_logout.noted(registry, identity))
