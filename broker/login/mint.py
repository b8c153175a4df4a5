"""Writes the tokens of one grant: a JWT access token (RFC 9068) backed by a row, an ID token (OIDC Core
§3.1.3.3, §12.2) and, when the client may have one, a rotating refresh token stored by hash."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from broker.login import subjects
from broker.login.ids import digest, new_token
from broker.oidc import scopes, tokens
from broker.oidc.keys import KeyRing
from broker.registry import Registry
from broker.store import grants, roles
from broker.store.database import Session
from broker.store.tables import AccessToken, Account, Client, RefreshToken


@dataclass(frozen=True)
class Grant:
    """What the tokens are about: the same for the code that opens a grant and every refresh of it."""

    grant_id: str
    client: Client
    account: Account
    scope: str
    auth_time: datetime
    acr: str
    amr: list[str]
    sid: str | None
    nonce: str | None = None
    roles: list[str] | None = None  # the account's staff roles when already read (else read here)

    @property
    def offline(self) -> bool:
        return scopes.OFFLINE_ACCESS in scopes.parse(self.scope)


def may_refresh(client: Client) -> bool:
    return "refresh_token" in (client.grant_types or [])


async def mint(
    registry: Registry,
    session: Session,
    ring: KeyRing,
    grant: Grant,
    *,
    grant_type: str,
    refresh_expires_at: datetime | None,
) -> dict[str, Any]:
    settings = registry.settings
    now = registry.clock()
    client, account = grant.client, grant.account
    sub = subjects.for_client(registry, client, account)
    account_id = account.id
    assert account_id is not None
    jti = new_token()
    ttl = settings.access_token_ttl_seconds
    access_token = ring.sign(
        tokens.access_token_claims(
            issuer=settings.issuer,
            sub=sub,
            client_id=client.client_id,
            jti=jti,
            scope=grant.scope,
            now=now,
            ttl_seconds=ttl,
            auth_time=grant.auth_time,
            acr=grant.acr,
        )
        # Staff roles (RFC 9068 §2.2.3.1), read in this transaction; resources re-check them in the store.
        | ({"roles": held} if (held := await _roles(session, grant, account_id)) else {}),
        "RS256",
        typ="at+jwt",
    )
    access_row = AccessToken(
        jti=jti,
        grant_id=grant.grant_id,
        client_id=client.client_id,
        account_id=account_id,
        scope=grant.scope,
        created_at=now,
        expires_at=now + timedelta(seconds=ttl),
        sid=grant.sid,
        offline=grant.offline,
    )
    alg = client.id_token_signed_response_alg
    id_token = ring.sign(
        tokens.id_token_claims(
            issuer=settings.issuer,
            sub=sub,
            client_id=client.client_id,
            now=now,
            ttl_seconds=settings.id_token_ttl_seconds,
            auth_time=grant.auth_time,
            acr=grant.acr,
            amr=list(grant.amr),
            nonce=grant.nonce,
            access_token=access_token,
            alg=alg,
            released=scopes.released_claims(grant.scope, account_claims(account)),
            sid=grant.sid,
        ),
        alg,
    )
    response: dict[str, Any] = {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "id_token": id_token,
        "scope": grant.scope,
    }
    if refresh_expires_at is not None:
        refresh_token = new_token()
        await grants.add_tokens(
            session,
            access_row,
            RefreshToken(
                token_hash=digest(refresh_token),
                grant_id=grant.grant_id,
                client_id=client.client_id,
                account_id=account_id,
                scope=grant.scope,
                sid=grant.sid,
                offline=grant.offline,
                auth_time=grant.auth_time,
                acr=grant.acr,
                amr=list(grant.amr),
                created_at=now,
                expires_at=refresh_expires_at,
            ),
        )
        response["refresh_token"] = refresh_token
        registry.metrics.tokens_issued.labels("refresh_token", grant_type).inc()
    else:
        await grants.add_tokens(session, access_row, None)
    registry.metrics.tokens_issued.labels("access_token", grant_type).inc()
    registry.metrics.tokens_issued.labels("id_token", grant_type).inc()
    return response


async def _roles(session: Session, grant: Grant, account_id: int) -> list[str]:
    return grant.roles if grant.roles is not None else await roles.of_account(session, account_id)


def account_claims(account: Account) -> dict[str, Any]:
    """Every claim the broker can release about an account; scopes pick from these."""
    return {
        "name": account.name,
        "birthdate": account.birthdate.isoformat() if account.birthdate else None,
        "gender": account.gender,
        "identification_number": account.identification_number,
        "old_identification_number": account.old_identification_number,
        "account_type": account.account_type,
    }
