"""The console's review queue: each doubtful group side by side, as an officer needs to judge it, and the
three decisions on it (merge into the chosen account, not the same person, accept VNeID's data).

What is shown is masked as everywhere (numbers as ``001******345``); names and birth dates are shown in
full, because judging whether two records are one person is the officer's job."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date, datetime
from typing import Any

from broker.admin import reviews, source_systems
from broker.admin.console_auth import Officer
from broker.admin.roles import Role
from broker.domain.accounts import AccountStatus
from broker.domain.identity_numbers import mask
from broker.domain.source_systems import display_name
from broker.registry import Registry
from broker.store import accounts, audit, legacy
from broker.store import console as console_store
from broker.store import reviews as review_store

MAY_REVIEW = frozenset({Role.ONE_STOP_OFFICER, Role.OPS_ADMIN})
ACTIONS = ("merge", "not_same_person", "accept_vneid")


class ReviewRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class RecordView:
    source_name: str
    username: str  # masked when it is a number or an e-mail address
    full_name: str | None
    birth_date: date | None
    cmnd: str
    cccd: str
    created_at: datetime | None


@dataclass(frozen=True)
class AccountView:
    sub: str
    status: str
    name: str | None
    birthdate: date | None
    identification_number: str
    old_identification_number: str
    created_at: datetime
    records: list[RecordView]


@dataclass(frozen=True)
class GroupView:
    item_id: int
    kind: str
    created_at: datetime
    accounts: list[AccountView]
    vneid_numbers: tuple[str, str]  # what VNeID said: the identification number and the old CMND, masked
    differences: list[tuple[str, str, str]]  # (field, legacy value, VNeID's value)
    logged_in_to: str | None


@dataclass(frozen=True)
class Decision:
    item_id: int
    resolution: str
    kept_sub: str | None
    retired_subs: list[str]


def may_review(officer: Officer) -> bool:
    return bool(officer.roles & MAY_REVIEW)


async def source_names(registry: Registry) -> dict[str, str]:
    return await source_systems.all_names(registry)


async def queue(registry: Registry, limit: int = 50) -> list[GroupView]:
    names = await source_names(registry)
    groups: list[GroupView] = []
    async with registry.db.read() as session:
        items = (await review_store.list_by_status(session, "open"))[:limit]
        for item in items:
            assert item.id is not None
            members = await console_store.accounts_by_ids(session, list(item.account_ids))
            views = []
            for account in members:
                assert account.id is not None
                records = await legacy.for_account(session, account.id)
                views.append(
                    AccountView(
                        account.sub,
                        account.status,
                        account.name,
                        account.birthdate,
                        mask(account.identification_number),
                        mask(account.old_identification_number),
                        account.created_at,
                        [
                            RecordView(
                                display_name(r.source_system, names),
                                mask_username(r.username),
                                r.full_name,
                                r.birth_date,
                                mask(r.cmnd),
                                mask(r.cccd),
                                r.source_created_at,
                            )
                            for r in records
                        ],
                    )
                )
            details: dict[str, Any] = dict(item.details or {})
            groups.append(
                GroupView(
                    item.id,
                    item.kind,
                    item.created_at,
                    views,
                    (
                        str(details.get("identification_number") or ""),
                        str(details.get("old_identification_number") or ""),
                    ),
                    _differences(details.get("differences") or {}),
                    details.get("logged_in_to"),
                )
            )
    return groups


async def decide(
    registry: Registry, officer: Officer, item_id: int, action: str, keep_sub: str | None
) -> Decision:
    if not may_review(officer):
        raise ReviewRefused("role_required")
    if action == "merge":
        done = await _resolve(registry, officer, item_id, merge_into=keep_sub or "")
    elif action == "not_same_person":
        done = await _resolve(registry, officer, item_id, not_same_person=True)
    elif action == "accept_vneid":
        return await accept_vneid_data(registry, officer, item_id)
    else:
        raise ReviewRefused("unknown_action")
    return Decision(done.item_id, done.resolution, done.kept_sub, done.retired_subs)


async def _resolve(registry: Registry, officer: Officer, item_id: int, **choice: Any) -> reviews.Resolution:
    try:
        return await reviews.resolve(registry, item_id, officer=officer.sub, **choice)
    except reviews.ReviewError as error:
        raise ReviewRefused(str(error)) from error


async def accept_vneid_data(registry: Registry, officer: Officer, item_id: int) -> Decision:
    """The legacy records disagree with VNeID, and VNeID is right: the accounts keep VNeID's verified
    data (already theirs since the link), nothing is merged, and the flag is lifted."""
    now = registry.clock()
    async with registry.db.transaction() as session:
        item = await review_store.get(session, item_id)
        if item is None or item.status != "open":
            raise ReviewRefused("review_not_open")
        for account in await accounts.lock(session, list(item.account_ids)):
            if account.status != AccountStatus.MERGED:
                account.needs_review = False
        item.status, item.resolved_at, item.resolved_by = "resolved", now, officer.sub
        item.resolution = "vneid_data_accepted"
        await audit.append(
            session,
            at=now,
            actor=officer.actor,
            action="review.resolve",
            outcome="done",
            reason="vneid_data_accepted",
            details={"item": item_id, "kind": item.kind, "retired_subs": []},
        )
    return Decision(item_id, "vneid_data_accepted", None, [])


def _differences(raw: dict[str, Any]) -> list[tuple[str, str, str]]:
    """Flattens {field: {legacy, vneid}} and, for groups, {account id: {field: {...}}}."""
    found: list[tuple[str, str, str]] = []
    for key, value in raw.items():
        if isinstance(value, dict) and "vneid" in value:
            found.append((key, _shown(value.get("legacy")), _shown(value.get("vneid"))))
        elif isinstance(value, dict):
            found.extend(_differences(value))
    return found


def _shown(value: Any) -> str:
    """ISO dates as people read them (21/03/1985); anything else as it is."""
    text = str(value or "")
    try:
        parsed = date.fromisoformat(text)
    except ValueError:
        return text
    return f"{parsed.day:02d}/{parsed.month:02d}/{parsed.year}"


def mask_username(username: str) -> str:
    if username.isdigit():
        return mask(username)
    name, at, domain = username.partition("@")
    if not at:
        return username
    return name[:2] + "*" * max(len(name) - 2, 1) + at + domain
