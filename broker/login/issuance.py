"""THE decision whether anything about an account may be released now: tokens at the code and refresh
grants, introspection, and every use of a bearer token ask it, so the policy (freeze, merge, disable)
holds for every token the broker issues or honours.

From ``unlinked_legacy_frozen_from`` an unlinked legacy citizen account is frozen (its data is withheld
until the citizen logs in with VNeID); merged and disabled accounts release nothing either.
"""

from __future__ import annotations

from datetime import datetime

from broker.domain.accounts import AccountStatus, AccountType
from broker.domain.policy import Decision, may_release_data
from broker.errors import InvalidGrant
from broker.login.account_state import standing_of
from broker.registry import Registry
from broker.store.database import Session
from broker.store.tables import Account
from broker.store.token_views import AccountView


async def may_issue(registry: Registry, session: Session, account: Account, now: datetime) -> Decision:
    status, linked = await standing_of(session, account)
    return may_release_data(
        AccountType(account.account_type),
        status,
        linked,
        now,
        registry.settings.policy_rules(),
    )


def may_issue_view(registry: Registry, view: AccountView, now: datetime) -> Decision:
    """The same decision from an account read with its link state in one statement (no round trip)."""
    return may_release_data(
        AccountType(view.account.account_type),
        AccountStatus(view.account.status),
        view.linked,
        now,
        registry.settings.policy_rules(),
    )


def check_may_issue_view(registry: Registry, view: AccountView, now: datetime) -> None:
    decision = may_issue_view(registry, view, now)
    if not decision.allowed:
        raise InvalidGrant(f"no tokens for this account: {decision.reason}")


async def check_may_issue(
    registry: Registry, account: Account, now: datetime, session: Session | None = None
) -> None:
    """Raises InvalidGrant (RFC 6749 §5.2) when no token may be issued for ``account`` at ``now``."""
    if session is None:
        async with registry.db.read() as own:
            decision = await may_issue(registry, own, account, now)
    else:
        decision = await may_issue(registry, session, account, now)
    if not decision.allowed:
        raise InvalidGrant(f"no tokens for this account: {decision.reason}")
