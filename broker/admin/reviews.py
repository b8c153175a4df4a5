"""Officers resolve the review queue: merge a doubtful duplicate into the account they choose, or record
that the accounts belong to different people. Every resolution is audited; nothing is deleted."""

from __future__ import annotations

from dataclasses import dataclass

from broker.domain.accounts import AccountStatus
from broker.registry import Registry
from broker.store import accounts, audit, reviews
from broker.store.merges import MergeRefused, merge_accounts
from broker.store.tables import ReviewItem


class ReviewError(ValueError):
    """Shown to the officer as is: says what is wrong, never a stack trace."""


@dataclass(frozen=True)
class Resolution:
    item_id: int
    resolution: str
    kept_sub: str | None
    retired_subs: list[str]


async def list_items(registry: Registry, status: str | None = "open") -> list[ReviewItem]:
    async with registry.db.read() as session:
        return await reviews.list_by_status(session, status)


async def resolve(
    registry: Registry,
    item_id: int,
    *,
    officer: str,
    merge_into: str | None = None,
    not_same_person: bool = False,
) -> Resolution:
    if (merge_into is None) == (not not_same_person):
        raise ReviewError("choose exactly one: --merge-into SUB or --not-same-person")
    now = registry.clock()
    async with registry.db.transaction() as session:
        item = await reviews.get(session, item_id)
        if item is None:
            raise ReviewError(f"no review item {item_id}")
        if item.status != "open":
            raise ReviewError(f"review item {item_id} is already {item.status}")
        members = await accounts.lock(session, list(item.account_ids))
        kept_sub: str | None = None
        retired_subs: list[str] = []
        if merge_into is not None:
            keep = next((account for account in members if account.sub == merge_into), None)
            if keep is None:
                raise ReviewError("the account to keep must be one of the item's accounts")
            retired = [a for a in members if a.id != keep.id and a.status != AccountStatus.MERGED]
            try:
                await merge_accounts(
                    session, keep, retired, at=now, actor=f"officer:{officer}", reason="officer_review"
                )
            except MergeRefused as refused:
                raise ReviewError(f"cannot merge: {refused.reason}") from refused
            keep.needs_review = False
            kept_sub, retired_subs = keep.sub, [a.sub for a in retired]
            item.resolution = "merged"
        else:
            for account in members:
                account.needs_review = False
            item.resolution = "not_same_person"
        item.status, item.resolved_at, item.resolved_by = "resolved", now, officer
        await audit.append(
            session,
            at=now,
            actor=f"officer:{officer}",
            action="review.resolve",
            outcome="done",
            reason=item.resolution,
            sub=kept_sub,
            details={"item": item_id, "kind": item.kind, "retired_subs": retired_subs},
        )
        return Resolution(item_id, item.resolution, kept_sub, retired_subs)
