"""Merging duplicate accounts (Case 3): one transaction, nothing deleted.

Everything of a retired account moves to the kept one: its VNeID links, its aliases, its legacy
records and roles; its own ``sub`` becomes an alias of the kept account; the relying parties get an
``account.merged`` event in the same transaction, so dossiers follow.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from datetime import datetime

from sqlalchemy import update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.domain.accounts import AccountStatus
from broker.store import audit, cleanup, events
from broker.store.tables import Account, AccountAlias, AccountRole, LegacyAccount, UpstreamLink

Checkpoint = Callable[[str], Awaitable[None]]


class MergeRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


async def no_checkpoint(_: str) -> None:
    return None


async def merge_accounts(
    session: AsyncSession,
    keep: Account,
    retired: list[Account],
    *,
    at: datetime,
    actor: str,
    reason: str,
    checkpoint: Checkpoint = no_checkpoint,
) -> None:
    """Merges ``retired`` into ``keep`` inside the caller's transaction.

    ``checkpoint`` is called between steps; tests use it to kill the process or the connection half
    way and show that the transaction leaves the old state or the new one, never a mix.
    """
    assert keep.id is not None
    for account in retired:
        assert account.id is not None
        if account.id == keep.id or account.merged_into_id is not None or keep.merged_into_id is not None:
            raise MergeRefused("already_merged")
        await _move_links(session, account.id, keep.id)
        await checkpoint("links_moved")
        await session.execute(
            update(AccountAlias).where(col(AccountAlias.account_id) == account.id).values(account_id=keep.id)
        )
        session.add(AccountAlias(sub=account.sub, account_id=keep.id, created_at=at))
        await session.execute(
            update(LegacyAccount)
            .where(col(LegacyAccount.account_id) == account.id)
            .values(account_id=keep.id)
        )
        await _move_roles(session, account.id, keep.id)
        await checkpoint("history_moved")
        account.status = AccountStatus.MERGED
        account.merged_into_id = keep.id
        account.updated_at = at
        await events.append(
            session, "account.merged", keep.sub, at, surviving_sub=keep.sub, retired_sub=account.sub
        )
        await audit.append(
            session,
            at=at,
            actor=actor,
            action="account.merge",
            outcome="done",
            reason=reason,
            sub=keep.sub,
            details={"retired_sub": account.sub},
        )
        await session.flush()
        await checkpoint("account_retired")
    keep.updated_at = at
    await cleanup.reclassify(session, [keep.id, *(account.id for account in retired)], at)  # issue 9


async def _move_links(session: AsyncSession, source_id: int, target_id: int) -> None:
    links = list(
        (
            await session.execute(select(UpstreamLink).where(col(UpstreamLink.account_id) == source_id))
        ).scalars()
    )
    if not links:
        return
    issuers_of_target = set(
        (
            await session.execute(
                select(UpstreamLink.issuer).where(col(UpstreamLink.account_id) == target_id)
            )
        ).scalars()
    )
    if any(link.issuer in issuers_of_target for link in links):
        # Two VNeID identities would end up on one person: that is for an officer, not for a merge.
        raise MergeRefused("both_accounts_linked")
    for link in links:
        link.account_id = target_id
    await session.flush()


async def _move_roles(session: AsyncSession, source_id: int, target_id: int) -> None:
    held = set(
        (
            await session.execute(select(AccountRole.role).where(col(AccountRole.account_id) == target_id))
        ).scalars()
    )
    for role in (
        await session.execute(select(AccountRole).where(col(AccountRole.account_id) == source_id))
    ).scalars():
        # A role the kept account already holds stays where it was (a merged account cannot log in).
        if role.role not in held:
            role.account_id = target_id
    await session.flush()
