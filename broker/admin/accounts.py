"""Accounts created at the one-stop desk (Bộ phận Một cửa) by an officer.

Letter 3701/VPCP-KSTT: from 15/6/2024 officers no longer create citizen accounts; citizens register with
VNeID instead. Organisation and foreigner accounts are still created. The policy decides
(``broker.domain.policy.may_create_account``); every decision is audited, numbers masked.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from broker.admin.account_request import InvalidBody, NewAccount, account_type, parse, traces
from broker.admin.roles import Role
from broker.domain.accounts import AccountStatus, AccountType
from broker.domain.policy import Decision, Reason, Rules, may_create_account
from broker.registry import Registry
from broker.settings import VIETNAM
from broker.store import accounts, audit, directory
from broker.store.database import Session
from broker.store.tables import Account

ACTION = "account.create"
ACCOUNT_EXISTS = "account_exists"


@dataclass(frozen=True)
class Actor:
    """The authenticated caller, as the API established it from a bearer token."""

    sub: str
    roles: frozenset[str]  # held now: in the token and still in the database
    client_id: str  # the relying party (the desk's system) the token was issued to


class CreationRefused(Exception):
    def __init__(self, reason: str, message: dict[str, str] | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.message = message  # {"vi": ..., "en": ...} for refusals a person must understand


async def create(registry: Registry, actor: Actor, body: object) -> Account:
    """Creates the account described by ``body`` (a parsed JSON value) if the policy allows it.

    The role is checked before the body, so a caller without it learns nothing about what it sent.
    """
    now = registry.clock()
    rules = registry.settings.policy_rules()
    trail = {"client_id": actor.client_id[:100], **traces(body)}
    decision = _decide(Role.ONE_STOP_OFFICER in actor.roles, account_type(body), now, rules)
    if decision is not None and not decision.allowed:
        await _audit(registry, actor, now, "refused", decision.reason, trail)
        raise CreationRefused(decision.reason, _explanation(decision.reason, rules))
    try:
        request = parse(body, now.astimezone(VIETNAM).date())
    except InvalidBody as invalid:
        fields = sorted(invalid.fields)  # which fields, never what was in them
        await _audit(registry, actor, now, "invalid", "invalid_request", {**trail, "fields": fields})
        raise
    return await _store(registry, actor, now, request, trail)


def _decide(officer: bool, kind: AccountType | None, at: datetime, rules: Rules) -> Decision | None:
    if kind is None:
        # No type to decide on: the body is refused as invalid, but only to an officer; anyone else
        # hears that the role is missing, which holds whatever the type.
        return None if officer else Decision.refuse(Reason.ROLE_REQUIRED)
    return may_create_account(officer, kind, at, rules)


async def _store(
    registry: Registry, actor: Actor, now: datetime, request: NewAccount, trail: dict[str, Any]
) -> Account:
    async with registry.db.transaction() as session:
        # Nothing is ever deleted, so a second account for one person or enterprise would become a
        # Case 3 duplicate to merge later: refuse it here instead.
        if await directory.any_with(
            session, identification_number=request.identification_number, tax_code=request.tax_code
        ):
            await _audit_in(session, actor, now, "refused", ACCOUNT_EXISTS, trail)
            account = None
        else:
            account = await accounts.add(session, _account(request, now))
            await _audit_in(session, actor, now, "allowed", Reason.ALLOWED, trail, sub=account.sub)
    if account is None:
        raise CreationRefused(ACCOUNT_EXISTS)
    return account


def _account(request: NewAccount, now: datetime) -> Account:
    return Account(
        # The same form as a VNeID-created account's sub (broker.login.ids.new_subject): random, never
        # derived from a personal number.
        sub=str(uuid.uuid4()),
        account_type=request.account_type,
        status=AccountStatus.ACTIVE,
        name=request.full_name,
        birthdate=request.birth_date,
        gender=request.gender,
        identification_number=request.identification_number,
        org_name=request.org_name,
        tax_code=request.tax_code,
        unit_code=request.unit_code,
        created_at=now,
        updated_at=now,
    )


async def _audit(
    registry: Registry,
    actor: Actor,
    now: datetime,
    outcome: str,
    reason: str,
    details: dict[str, Any],
) -> None:
    """A refusal's entry in a transaction of its own: it is committed before the refusal is raised."""
    async with registry.db.transaction() as session:
        await _audit_in(session, actor, now, outcome, reason, details)


async def _audit_in(
    session: Session,
    actor: Actor,
    now: datetime,
    outcome: str,
    reason: str,
    details: dict[str, Any],
    sub: str | None = None,
) -> None:
    await audit.append(
        session,
        at=now,
        actor=f"officer:{actor.sub}",
        action=ACTION,
        outcome=outcome,
        reason=str(reason),
        sub=sub,
        details=details,
    )


def _explanation(reason: str, rules: Rules) -> dict[str, str] | None:
    if (
        reason != Reason.OFFICER_CITIZEN_CREATION_DISABLED
        or rules.officer_citizen_creation_disabled_from is None
    ):
        return None
    since = rules.officer_citizen_creation_disabled_from.astimezone(VIETNAM).strftime("%d/%m/%Y")
    return {
        "vi": (
            f"Từ ngày {since}, cán bộ Bộ phận Một cửa không tạo tài khoản cho công dân. Công dân đăng ký "
            "tài khoản định danh điện tử VNeID trên ứng dụng VNeID hoặc tại Công an cấp xã, rồi đăng nhập "
            "bằng VNeID. Hỗ trợ VNeID: tổng đài 1900.0368."
        ),
        "en": (
            f"Since {since}, one-stop desk officers no longer create citizen accounts. Citizens register "
            "a VNeID electronic identity in the VNeID app or at the commune police, then log in with "
            "VNeID. VNeID help: hotline 1900.0368."
        ),
    }
