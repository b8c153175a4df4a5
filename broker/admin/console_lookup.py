"""Account look-up at the one-stop desk: by personal identification number, CMND or legacy username,
a masked summary an officer can read to a citizen (state, links, source systems, last login), and
every look-up in the audit trail with the officer's sub (the query masked)."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from broker.admin.console_auth import Officer
from broker.admin.console_reviews import mask_username, source_names
from broker.admin.roles import Role
from broker.domain.identity_numbers import is_cccd, is_cmnd, mask
from broker.domain.source_systems import display_name
from broker.domain.usernames import username_key
from broker.registry import Registry
from broker.store import accounts, audit, legacy
from broker.store import console as console_store

MAY_LOOK_UP = frozenset({Role.ONE_STOP_OFFICER, Role.OPS_ADMIN})
MAX_QUERY = 200


class LookupRefused(Exception):
    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class LinkView:
    upstream: str
    level: int
    linked_at: datetime
    last_login_at: datetime


@dataclass(frozen=True)
class SourceView:
    source_name: str
    username: str


@dataclass(frozen=True)
class AccountSummary:
    sub: str
    account_type: str
    status: str
    needs_review: bool
    name: str  # initials after the family name
    identification_number: str
    old_identification_number: str
    links: list[LinkView]
    sources: list[SourceView]
    last_login: datetime | None
    merged_into: str | None


@dataclass(frozen=True)
class LookupResult:
    kind: str  # cccd, cmnd or username
    shown_query: str  # masked
    accounts: list[AccountSummary]


def may_look_up(officer: Officer) -> bool:
    return bool(officer.roles & MAY_LOOK_UP)


def classify(query: str) -> str:
    if is_cccd(query):
        return "cccd"
    if is_cmnd(query):
        return "cmnd"
    return "username"


async def look_up(registry: Registry, officer: Officer, raw_query: str) -> LookupResult:
    if not may_look_up(officer):
        raise LookupRefused("role_required")
    query = raw_query.strip()
    if not query or len(query) > MAX_QUERY or "\x00" in query:
        raise LookupRefused("invalid_query")
    kind = classify(query)
    shown = mask(query) if kind != "username" else mask_username(query)
    names = await source_names(registry)
    async with registry.db.read() as session:
        found = (
            await console_store.accounts_by_number(session, query)
            if kind != "username"
            else await console_store.accounts_by_username_key(session, username_key(query))
        )
        summaries = []
        for account in found:
            assert account.id is not None
            links = await accounts.links_of(session, account.id)
            records = await legacy.for_account(session, account.id)
            merged_into = (
                await accounts.get(session, account.merged_into_id) if account.merged_into_id else None
            )
            summaries.append(
                AccountSummary(
                    account.sub,
                    account.account_type,
                    account.status,
                    account.needs_review,
                    _initials(account.name or account.org_name),
                    mask(account.identification_number),
                    mask(account.old_identification_number),
                    [LinkView("VNeID", link.level, link.created_at, link.last_login_at) for link in links],
                    [
                        SourceView(display_name(r.source_system, names), mask_username(r.username))
                        for r in records
                    ],
                    await console_store.last_login(session, account.id),
                    merged_into.sub if merged_into else None,
                )
            )
    async with registry.db.transaction() as session:
        await audit.append(
            session,
            at=registry.clock(),
            actor=officer.actor,
            action="console.lookup",
            outcome="done",
            sub=officer.sub,
            details={"by": kind, "query": shown, "found": len(summaries)},
        )
    return LookupResult(kind, shown, summaries)


def _initials(name: str | None) -> str:
    """ "Nguyễn Văn An" → "Nguyễn V. A.": enough to confirm with the person at the desk."""
    if not name:
        return ""
    first, *rest = name.split()
    return " ".join([first, *(part[0] + "." for part in rest)])
