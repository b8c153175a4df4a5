"""An account's state as the policy sees it (linked, unlinked, frozen, merged, disabled)."""

from __future__ import annotations

from broker.domain.accounts import AccountStatus
from broker.domain.policy import AccountState
from broker.store import accounts
from broker.store.database import Session
from broker.store.tables import Account

_STORED = {
    AccountStatus.MERGED: AccountState.MERGED,
    AccountStatus.DISABLED: AccountState.DISABLED,
    AccountStatus.FROZEN: AccountState.FROZEN,
}


async def state_of(session: Session, account: Account) -> AccountState:
    stored = _STORED.get(AccountStatus(account.status))
    if stored is not None:
        return stored
    assert account.id is not None
    return state_given(account, await accounts.has_link(session, account.id))


def state_given(account: Account, linked: bool) -> AccountState:
    """The same, when the caller already read whether the account is linked (broker.store.token_views)."""
    stored = _STORED.get(AccountStatus(account.status))
    if stored is not None:
        return stored
    return AccountState.LINKED if linked else AccountState.UNLINKED
