"""After a page the citizen read (the "link your VNeID" suggestion they skipped, or the notice that an
officer will review their duplicates), the authenticated flow ends in a code for the RP."""

from __future__ import annotations

from broker.domain.identity import VerifiedIdentity
from broker.domain.login_flow import FlowState
from broker.errors import LoginFlowError
from broker.login import flow_guard, upstream_logout
from broker.login.complete import complete
from broker.login.outcomes import Outcome
from broker.registry import Registry
from broker.store import flows


async def resume(registry: Registry, flow_id: str | None, browser: str | None) -> Outcome:
    flow = await flow_guard.load(registry, flow_id, browser)
    if flow.state != FlowState.AUTHENTICATED:
        raise LoginFlowError("flow_not_authenticated")
    # A VNeID login that showed the review notice kept its identity on the flow: the session keeps its
    # upstream's logout URL, as it would have without the page (issue 10).
    kept = VerifiedIdentity.from_json(flow.pending_identity) if flow.pending_identity else None
    async with registry.db.transaction() as session:
        outcome = await complete(
            registry, session, flow.id, upstream=upstream_logout.noted(registry, kept) if kept else None
        )
        if kept is not None:
            await flows.forget_pending_identity(session, flow.id)
        return outcome
