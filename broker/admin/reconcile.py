"""`broker legacy reconcile`: every account classified, every group of duplicate suspects in the review
queue once (issue 9). Safe to rerun: a group already filed is never filed again, and a rerun over
unchanged data changes nothing. Works page by page, one short transaction each, so logins never wait on
it for more than a moment."""

from __future__ import annotations

from typing import Any

from broker.registry import Registry
from broker.store import audit, cleanup
from broker.store import reconcile as store


async def reconcile(registry: Registry) -> dict[str, int]:
    now = registry.clock()
    batch = registry.settings.reconcile_batch_size
    summary = {"classified": 0, "groups_found": 0, "groups_filed": 0, "accounts_marked": 0}
    after_id = 0
    while True:  # accounts imported before classes existed, or written by older code
        async with registry.db.transaction() as session:
            ids = await cleanup.unclassified(session, batch, after_id)
            await cleanup.reclassify(session, ids, now)
        summary["classified"] += len(ids)
        if len(ids) < batch:
            break
        after_id = ids[-1]
    cccd_after: Any = ""
    while cccd_after is not None:
        async with registry.db.read() as session:
            groups, cccd_after = await store.same_cccd_page(session, cccd_after, batch)
        await _file(registry, groups, summary)
    async with registry.db.read() as session:
        keys = await store.cmnd_and_cccd_keys(session)
    for start in range(0, len(keys), batch):
        async with registry.db.read() as session:
            groups = await store.cmnd_and_cccd_groups(session, keys[start : start + batch])
        await _file(registry, groups, summary)
    async with registry.db.transaction() as session:
        await audit.append(
            session, at=now, actor="cli", action="legacy.reconcile", outcome="done", details=summary
        )
    return summary


async def _file(registry: Registry, groups: list[store.Group], summary: dict[str, int]) -> None:
    if not groups:
        return
    summary["groups_found"] += len(groups)
    async with registry.db.transaction() as session:
        filed, marked = await store.file_groups(session, groups, registry.clock())
    summary["groups_filed"] += filed
    summary["accounts_marked"] += marked
