"""Case 1 of the letters: the first VNeID login of an unknown citizen creates an account linked to that
identity; every later login finds the same account (the same ``sub`` to the relying parties)."""

from __future__ import annotations

from broker.domain.accounts import AccountStatus, AccountType
from broker.domain.identity import VerifiedIdentity
from broker.errors import StoreConflict
from broker.login.ids import new_subject
from broker.registry import Registry
from broker.store import accounts
from broker.store.tables import Account, UpstreamLink


async def account_for(registry: Registry, identity: VerifiedIdentity) -> Account:
    """The account linked to (issuer, subject), created on first sight.

    Two first logins of one person at the same instant race to insert the link; the unique constraint on
    (issuer, subject) lets exactly one win and the other, retrying, finds the winner's account.
    """
    try:
        return await _find_or_create(registry, identity)
    except StoreConflict:
        return await _find_or_create(registry, identity)


async def _find_or_create(registry: Registry, identity: VerifiedIdentity) -> Account:
    now = registry.clock()
    async with registry.db.transaction() as session:
        account = await accounts.find_by_upstream(session, identity.issuer, identity.subject)
        if account is not None:
            _complete(account, identity)
            account.updated_at = now
            await accounts.touch_link(session, identity.issuer, identity.subject, identity.level, now)
            return account
        account = await accounts.add(
            session,
            Account(
                sub=new_subject(),
                account_type=AccountType.CITIZEN,
                status=AccountStatus.ACTIVE,
                created_at=now,
                updated_at=now,
            ),
        )
        _complete(account, identity)
        assert account.id is not None
        await accounts.add_link(
            session,
            UpstreamLink(
                account_id=account.id,
                issuer=identity.issuer,
                subject=identity.subject,
                level=identity.level,
                created_at=now,
                last_login_at=now,
            ),
        )
    registry.metrics.accounts_created.inc()
    return account


def _complete(account: Account, identity: VerifiedIdentity) -> None:
    """VNeID is the authority on identity data: its verified values replace what the account had."""
    account.name = identity.name or account.name
    account.birthdate = identity.birthdate or account.birthdate
    account.gender = identity.gender or account.gender
    account.identification_number = identity.identification_number or account.identification_number
    account.old_identification_number = (
        identity.old_identification_number or account.old_identification_number
    )
