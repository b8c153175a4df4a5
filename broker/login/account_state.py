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
    return AccountState.LINKED if await accounts.has_link(session, account.id) else AccountState.UNLINKED
