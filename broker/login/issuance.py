"""THE decision whether tokens may be issued for an account now. The authorization code grant and the
refresh grant both ask it, so a policy added here (freeze, merge) holds for every token the broker issues."""

from __future__ import annotations

from datetime import datetime

from broker.domain.accounts import AccountStatus
from broker.errors import InvalidGrant
from broker.registry import Registry
from broker.store.tables import Account


async def check_may_issue(registry: Registry, account: Account, now: datetime) -> None:
    """Raises InvalidGrant (RFC 6749 §5.2) when no token may be issued for ``account`` at ``now``."""
    if account.status != AccountStatus.ACTIVE:
        raise InvalidGrant("the account cannot be used")
