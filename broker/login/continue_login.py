"""After a page the citizen read (the "link your VNeID" suggestion they skipped, or the notice that an
officer will review their duplicates), the authenticated flow ends in a code for the RP."""

from __future__ import annotations

from broker.domain.login_flow import FlowState
from broker.errors import LoginFlowError
from broker.login import flow_guard
from broker.login.complete import complete
from broker.login.outcomes import Outcome
from broker.registry import Registry


async def resume(registry: Registry, flow_id: str | None, browser: str | None) -> Outcome:
    flow = await flow_guard.load(registry, flow_id, browser)
    if flow.state != FlowState.AUTHENTICATED:
        raise LoginFlowError("flow_not_authenticated")
    async with registry.db.transaction() as session:
        return await complete(registry, session, flow.id)
