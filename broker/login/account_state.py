"""What the policy needs to know of an account beside its type: its stored status, and whether it is
linked to a VNeID identity."""

from __future__ import annotations

from datetime import datetime

from broker.domain import policy
from broker.domain.accounts import AccountStatus, AccountType, LoginMethod
from broker.domain.policy import Decision
from broker.registry import Registry
from broker.store import accounts
from broker.store.database import Session
from broker.store.tables import Account


async def standing_of(
    session: Session, account: Account, linked: bool | None = None
) -> tuple[AccountStatus, bool]:
    """``linked``: True when the caller's transaction found or made the account's link (not read again)."""
    status = AccountStatus(account.status)
    if status is not AccountStatus.ACTIVE:
        return status, False  # frozen, merged and disabled are decided by the status alone
    assert account.id is not None
    return status, linked if linked is not None else await accounts.has_link(session, account.id)


async def may_log_in(
    registry: Registry,
    session: Session,
    account: Account,
    method: LoginMethod,
    at: datetime,
    linked: bool | None = None,
) -> Decision:
    """THE policy (broker.domain.policy.may_log_in), asked about a stored account."""
    status, linked = await standing_of(session, account, linked)
    return _asked(registry, account, method, status, linked, at)


def may_log_in_linked(registry: Registry, account: Account, method: LoginMethod, at: datetime) -> Decision:
    """``may_log_in`` for an account the caller found by its link (nothing to read)."""
    status = AccountStatus(account.status)
    return _asked(registry, account, method, status, status is AccountStatus.ACTIVE, at)


def _asked(
    registry: Registry,
    account: Account,
    method: LoginMethod,
    status: AccountStatus,
    linked: bool,
    at: datetime,
) -> Decision:
    return policy.may_log_in(
        AccountType(account.account_type), method, status, linked, at, registry.settings.policy_rules()
    )
