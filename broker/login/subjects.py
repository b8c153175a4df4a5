"""The ``sub`` a relying party sees: the account's public sub, or its pairwise value for the client's
sector (OIDC Core §8). Every token, userinfo answer, introspection and logout token goes through here."""

from __future__ import annotations

from typing import Protocol

from broker.oidc import pairwise
from broker.registry import Registry
from broker.store.tables import Account


class SubjectClient(Protocol):
    """What decides a client's ``sub``s: a whole ``Client`` row, or a token's ``TokenClient``."""

    @property
    def subject_type(self) -> str: ...

    @property
    def sector_identifier(self) -> str | None: ...


def for_client(registry: Registry, client: SubjectClient, account: Account) -> str:
    return of_public_sub(registry, client, account.sub)


def of_public_sub(registry: Registry, client: SubjectClient, public_sub: str) -> str:
    return pairwise.subject(
        public_sub, client.subject_type, client.sector_identifier, registry.derived_key("pairwise-subject")
    )
