"""The tokens of one grant: an access token backed by a row (a JWT, RFC 9068, or an opaque handle:
``broker.oidc.access_tokens``), an ID token (OIDC Core §3.1.3.3, §12.2) and, when the client may have one,
a rotating refresh token stored by hash. Signed here, written by the caller's redemption
(``broker.store.grants.redeem_code``, ``broker.store.refresh_tokens.rotate``) in the statement that spends
the code or refresh token."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from broker.clock import seconds
from broker.login import subjects
from broker.login.ids import digest, new_token
from broker.oidc import access_tokens, scopes, tokens
from broker.oidc.keys import KeyRing
from broker.registry import Registry
from broker.store.tables import Account, Client


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
    roles: list[str] = field(default_factory=list)  # the account's staff roles, read with the account

    @property
    def offline(self) -> bool:
        return scopes.OFFLINE_ACCESS in scopes.parse(self.scope)


def may_refresh(client: Client) -> bool:
    return "refresh_token" in (client.grant_types or [])


@dataclass(frozen=True)
class Minted:
    """Signed tokens and the rows that make them count; nothing is issued until the rows are written."""

    response: dict[str, Any]
    # The tokens' columns as the statement that spends the code or refresh token writes them: plain
    # values, not table instances (building an AccessToken and a RefreshToken through SQLModel cost
    # 250 µs of a code exchange for objects only read back into parameters; bench/README.md).
    access_row: dict[str, Any]
    refresh_row: dict[str, Any] | None
    grant_type: str

    def count(self, registry: Registry) -> None:
        """The issuance metrics, once the rows are written."""
        issued = registry.metrics.tokens_issued
        if self.refresh_row is not None:
            issued.labels("refresh_token", self.grant_type).inc()
        issued.labels("access_token", self.grant_type).inc()
        issued.labels("id_token", self.grant_type).inc()


def mint(
    registry: Registry,
    ring: KeyRing,
    grant: Grant,
    *,
    grant_type: str,
    refresh_expires_at: datetime | None,
) -> Minted:
    settings = registry.settings
    now = registry.clock()
    client, account = grant.client, grant.account
    sub = subjects.for_client(registry, client, account)
    account_id = account.id
    assert account_id is not None
    jti = new_token()
    ttl = settings.access_token_ttl_seconds
    if (
        access_tokens.format_for(client.access_token_format, settings.access_token_format)
        == access_tokens.OPAQUE
    ):
        # Found by its jti and recognised by its hash, like a JWT the broker issued: no signature to make.
        access_token = access_tokens.opaque(jti, new_token())
    else:
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
            # Staff roles (RFC 9068 §2.2.3.1), read with the account; resources re-check them in the store.
            | ({"roles": grant.roles} if grant.roles else {}),
            "RS256",
            typ="at+jwt",
        )
    access_row = {
        "jti": jti,
        "grant_id": grant.grant_id,
        "client_id": client.client_id,
        "account_id": account_id,
        "scope": grant.scope,
        "created_at": now,
        "expires_at": now + seconds(ttl),
        "sid": grant.sid,
        "offline": grant.offline,
        "token_hash": digest(access_token),
        "acr": grant.acr,
    }
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
    refresh_row = None
    if refresh_expires_at is not None:
        refresh_token = new_token()
        refresh_row = {
            "token_hash": digest(refresh_token),
            "grant_id": grant.grant_id,
            "client_id": client.client_id,
            "account_id": account_id,
            "scope": grant.scope,
            "sid": grant.sid,
            "offline": grant.offline,
            "auth_time": grant.auth_time,
            "acr": grant.acr,
            "amr": list(grant.amr),
            "created_at": now,
            "expires_at": refresh_expires_at,
        }
        response["refresh_token"] = refresh_token
    return Minted(response, access_row, refresh_row, grant_type)


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
