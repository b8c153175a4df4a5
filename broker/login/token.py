"""The token endpoint's use case: authorization_code grant (RFC 6749 §4.1.3, OIDC Core §3.1.3)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import timedelta
from typing import Any

from broker.errors import InvalidClient, InvalidGrant, InvalidRequest, UnsupportedGrantType
from broker.login import release
from broker.login.ids import digest, new_token
from broker.oidc import client_auth, pkce, scopes, tokens
from broker.oidc.keys import KeyRing
from broker.registry import Registry
from broker.store import accounts, clients, grants, roles
from broker.store.tables import AccessToken, Account, AuthorizationCode, Client

SUPPORTED_GRANTS = ("authorization_code",)


async def exchange(registry: Registry, form: Mapping[str, str], authorization: str | None) -> dict[str, Any]:
    grant_type = form.get("grant_type")
    if grant_type is None:
        raise InvalidRequest("grant_type is required")
    if grant_type not in SUPPORTED_GRANTS:
        raise UnsupportedGrantType(f"grant_type {grant_type!r} is not supported")
    client = await authenticate_client(registry, client_auth.credentials(authorization, form))
    return await _redeem_code(registry, client, form)


async def authenticate_client(registry: Registry, credentials: client_auth.ClientCredentials) -> Client:
    async with registry.db.read() as session:
        client = await clients.get(session, credentials.client_id)
    key = registry.derived_key("client-secret")
    stored = client.secret_hash if client is not None else None
    if credentials.secret is None or not client_auth.secret_matches(credentials.secret, stored, key):
        raise InvalidClient("client authentication failed")
    assert client is not None
    return client


async def _redeem_code(registry: Registry, client: Client, form: Mapping[str, str]) -> dict[str, Any]:
    for name in ("code", "redirect_uri", "code_verifier"):
        if name not in form:
            raise InvalidRequest(f"{name} is required")
    code_hash = digest(form["code"])
    now = registry.clock()
    # Loaded before the transaction: a key ring (re)load takes a connection of its own, and waiting for one
    # while holding the write transaction deadlocks when concurrent redemptions hold all the others.
    ring = await registry.keyring()
    reused = False
    async with registry.db.transaction() as session:
        code = await grants.get_code(session, code_hash)
        if code is None or code.client_id != client.client_id:
            raise InvalidGrant("the code is invalid")
        if not await grants.claim_code(session, code_hash):
            # RFC 6749 §4.1.2: a code used twice revokes what it issued; committed, then refused.
            await grants.revoke_grant(session, code.grant_id, now)
            reused = True
        else:
            _check_code(code, form, now)
            account = await accounts.get(session, code.account_id)
            if account is None:
                raise InvalidGrant("the account no longer exists")
            released = await release.decision(registry, session, account)
            if not released.allowed:
                raise InvalidGrant(f"no tokens for this account: {released.reason}")
            response = await _issue(registry, session, ring, client, code, account)
    if reused:
        raise InvalidGrant("the code was already used")
    return response


def _check_code(code: AuthorizationCode, form: Mapping[str, str], now: Any) -> None:
    if code.expires_at <= now:
        raise InvalidGrant("the code has expired")
    if form["redirect_uri"] != code.redirect_uri:
        raise InvalidGrant("redirect_uri differs from the authorization request")
    if not pkce.verify(form["code_verifier"], code.code_challenge):
        raise InvalidGrant("PKCE verification failed")


async def _issue(
    registry: Registry, session: Any, ring: KeyRing, client: Client, code: AuthorizationCode, account: Account
) -> dict[str, Any]:
    settings = registry.settings
    now = registry.clock()
    jti = new_token()
    ttl = settings.access_token_ttl_seconds
    # Staff roles (RFC 9068 §2.2.3.1), read in this transaction; resources re-check them in the store.
    held = await roles.of_account(session, code.account_id)
    access_token = ring.sign(
        tokens.access_token_claims(
            issuer=settings.issuer,
            sub=account.sub,
            client_id=client.client_id,
            jti=jti,
            scope=code.scope,
            now=now,
            ttl_seconds=ttl,
            auth_time=code.auth_time,
            acr=code.acr,
        )
        | ({"roles": held} if held else {}),
        "RS256",
        typ="at+jwt",
    )
    await grants.add_access_token(
        session,
        AccessToken(
            jti=jti,
            grant_id=code.grant_id,
            client_id=client.client_id,
            account_id=code.account_id,
            scope=code.scope,
            created_at=now,
            expires_at=now + timedelta(seconds=ttl),
        ),
    )
    alg = client.id_token_signed_response_alg
    id_token = ring.sign(
        tokens.id_token_claims(
            issuer=settings.issuer,
            sub=account.sub,
            client_id=client.client_id,
            now=now,
            ttl_seconds=settings.id_token_ttl_seconds,
            auth_time=code.auth_time,
            acr=code.acr,
            amr=list(code.amr),
            nonce=code.nonce,
            access_token=access_token,
            alg=alg,
            released=scopes.released_claims(code.scope, account_claims(account)),
        ),
        alg,
    )
    registry.metrics.tokens_issued.labels("access_token", "authorization_code").inc()
    registry.metrics.tokens_issued.labels("id_token", "authorization_code").inc()
    return {
        "access_token": access_token,
        "token_type": "Bearer",
        "expires_in": ttl,
        "id_token": id_token,
        "scope": code.scope,
    }


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
