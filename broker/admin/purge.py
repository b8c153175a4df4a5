"""`broker maintenance purge` (cron): transient protocol rows are removed some time after they stopped
mattering, so the database holds the accounts, their history and the audit trail, not every login ever
attempted. Rows go in batches, each its own short transaction, so logins never wait behind a purge."""

from __future__ import annotations

from datetime import timedelta

from broker.registry import Registry
from broker.store import audit
from broker.store.purge import KINDS, purge_batch

BATCH = 1000


async def purge(registry: Registry, older_than: timedelta, batch: int = BATCH) -> dict[str, int]:
    now = registry.clock()
    cutoff = now - older_than
    counts = dict.fromkeys(KINDS, 0)
    for kind in KINDS:
        while True:
            async with registry.db.transaction() as session:
                removed = await purge_batch(session, kind, cutoff, batch)
            counts[kind] += removed
            if removed < batch:
                break
    async with registry.db.transaction() as session:
        await audit.append(
            session, at=now, actor="system", action="maintenance.purge", outcome="done", details=dict(counts)
        )
    return counts
