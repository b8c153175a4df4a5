"""Whether anything about an account may be released now: every token issuance and every bearer use asks.

From ``unlinked_legacy_frozen_from`` an unlinked legacy citizen account is frozen (its data is withheld
until the citizen logs in with VNeID); merged and disabled accounts release nothing either.
"""

from __future__ import annotations

from broker.domain.accounts import AccountType
from broker.domain.policy import Decision, may_release_data
from broker.login.account_state import state_of
from broker.registry import Registry
from broker.store.database import Session
from broker.store.tables import Account


async def decision(registry: Registry, session: Session, account: Account) -> Decision:
    return may_release_data(
        AccountType(account.account_type),
        await state_of(session, account),
        registry.clock(),
        registry.settings.policy_rules(),
    )
