"""`broker maintenance purge` (cron): transient protocol rows are removed some time after they stopped
mattering, so the database holds the accounts, their history and the audit trail, not every login ever
attempted."""

from __future__ import annotations

from datetime import timedelta

from broker.registry import Registry
from broker.store import audit
from broker.store.purge import purge_before


async def purge(registry: Registry, older_than: timedelta) -> dict[str, int]:
    now = registry.clock()
    async with registry.db.transaction() as session:
        counts = await purge_before(session, now - older_than)
        await audit.append(
            session, at=now, actor="system", action="maintenance.purge", outcome="done", details=dict(counts)
        )
    return counts
