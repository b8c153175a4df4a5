"""The freeze sweep: from ``unlinked_legacy_frozen_from`` (1/7/2024), legacy citizen accounts never linked
to VNeID are frozen: stored as such, and reported to the RPs as ``account.frozen``.

The policy already withholds their data from that instant whether or not the sweep has run; the sweep
makes the state visible to operators and relying parties. Run it from cron (`broker accounts freeze`);
it is idempotent.
"""

from __future__ import annotations

from broker.domain.accounts import AccountStatus, AccountType
from broker.domain.policy import is_frozen
from broker.registry import Registry
from broker.store import audit, cleanup, events, session_revocation
from broker.store.accounts import unlinked_active_citizens


async def freeze_unlinked(registry: Registry, batch: int = 500) -> int:
    now = registry.clock()
    rules = registry.settings.policy_rules()
    if not is_frozen(AccountType.CITIZEN, AccountStatus.ACTIVE, False, now, rules):
        return 0
    frozen = 0
    while True:
        async with registry.db.transaction() as session:
            found = await unlinked_active_citizens(session, batch)
            for account in found:
                account.status = AccountStatus.FROZEN
                account.updated_at = now
                await events.append(session, "account.frozen", account.sub, now)
                await session_revocation.end_for_account(session, account.id, now, "account_frozen")
                await audit.append(
                    session,
                    at=now,
                    actor="system",
                    action="account.freeze",
                    outcome="done",
                    reason="unlinked_legacy_frozen",
                    sub=account.sub,
                )
            await cleanup.reclassify(session, [account.id for account in found], now)  # issue 9
        frozen += len(found)
        if len(found) < batch:
            return frozen
