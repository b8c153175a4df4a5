"""The token endpoint's use case (RFC 6749 §3.2): client authentication, then the grant named by
``grant_type``: authorization_code (§4.1.3, OIDC Core §3.1.3) or refresh_token (§6, in broker.login.refresh)."""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime
from typing import Any, NoReturn

from broker.clock import seconds
from broker.errors import InvalidGrant, InvalidRequest, UnsupportedGrantType
from broker.login import client_authentication, refresh
from broker.login.ids import digest
from broker.login.issuance import check_may_issue_view
from broker.login.mint import Grant, account_claims, may_refresh, mint
from broker.oidc import client_auth, pkce
from broker.registry import Registry
from broker.store import grants, refresh_tokens
from broker.store.tables import AuthorizationCode, Client
from broker.store.token_views import AccountView

SUPPORTED_GRANTS = ("authorization_code", "refresh_token")
__all__ = ["SUPPORTED_GRANTS", "account_claims", "exchange"]


_CODE_FIELDS = ("code", "redirect_uri", "code_verifier")

# What a grant's reads return with the client: the code or refresh token (None: unknown) and its account.
Found = tuple[Any, AccountView | None] | None


async def exchange(registry: Registry, form: Mapping[str, str], authorization: str | None) -> dict[str, Any]:
    grant_type = form.get("grant_type")
    if grant_type is None:
        raise InvalidRequest("grant_type is required")
    if grant_type not in SUPPORTED_GRANTS:
        raise UnsupportedGrantType(f"grant_type {grant_type!r} is not supported")
    credentials = client_auth.credentials(authorization, form)
    endpoint = f"{registry.settings.issuer}/token"
    # The client and the grant's code or refresh token are read in one round trip (issue 7), then the
    # client is authenticated before anything read is used. A request without what its grant needs
    # reads the client alone: authenticated first, as always, then refused.
    found: Found = None
    if grant_type == "refresh_token":
        presented = form.get("refresh_token")
        if presented:
            row, found = await refresh_tokens.client_and_token(
                registry.db, credentials.client_id, digest(presented)
            )
            client = await client_authentication.authenticate_found(registry, credentials, row, endpoint)
        else:
            client = await client_authentication.authenticate(registry, credentials, endpoint)
        return await refresh.redeem(registry, client, form, found)
    if all(name in form for name in _CODE_FIELDS):
        row, found = await grants.client_and_code(registry.db, credentials.client_id, digest(form["code"]))
        client = await client_authentication.authenticate_found(registry, credentials, row, endpoint)
    else:
        client = await client_authentication.authenticate(registry, credentials, endpoint)
    return await _redeem_code(registry, client, form, found)


async def _redeem_code(
    registry: Registry, client: Client, form: Mapping[str, str], found: Found
) -> dict[str, Any]:
    for name in _CODE_FIELDS:
        if name not in form:
            raise InvalidRequest(f"{name} is required")
    code_hash = digest(form["code"])
    now = registry.clock()
    ring = await registry.keyring()
    # Read and checked first (with the client, by ``exchange``), then spent with the tokens written in
    # the same statement (grants.redeem_code), which alone decides single use: a refusal here writes
    # nothing, so the code stays unused, as a rolled-back claim left it.
    if found is None or found[0].client_id != client.client_id:
        raise InvalidGrant("the code is invalid")
    code, holder = found
    if code.used:
        await _revoke_reused(registry, code, now)
    _check_code(code, form, now)
    if holder is None:
        raise InvalidGrant("the account no longer exists")
    check_may_issue_view(registry, holder, now)
    grant = Grant(
        grant_id=code.grant_id,
        client=client,
        account=holder.account,
        roles=holder.roles,
        scope=code.scope,
        auth_time=code.auth_time,
        acr=code.acr,
        amr=list(code.amr),
        sid=code.sid,
        nonce=code.nonce,
    )
    refresh_until = (
        now + seconds(registry.settings.refresh_token_ttl_seconds) if may_refresh(client) else None
    )
    minted = mint(registry, ring, grant, grant_type="authorization_code", refresh_expires_at=refresh_until)
    if not await grants.redeem_code(
        registry.db, code_hash, client.client_id, minted.access_row, minted.refresh_row
    ):
        # Spent between the read and now: a concurrent redemption won, so this is a second use.
        await _revoke_reused(registry, code, now)
    minted.count(registry)
    return minted.response


async def _revoke_reused(registry: Registry, code: AuthorizationCode, now: datetime) -> NoReturn:
    """RFC 6749 §4.1.2: a code used twice revokes what it issued; committed, then refused."""
    async with registry.db.transaction() as session:
        await grants.revoke_grant(session, code.grant_id, now)
        await refresh_tokens.revoke_grant(session, code.grant_id, now)
    raise InvalidGrant("the code was already used")


def _check_code(code: AuthorizationCode, form: Mapping[str, str], now: datetime) -> None:
    if code.expires_at <= now:
        raise InvalidGrant("the code has expired")
    if form["redirect_uri"] != code.redirect_uri:
        raise InvalidGrant("redirect_uri differs from the authorization request")
    if not pkce.verify(form["code_verifier"], code.code_challenge):
        raise InvalidGrant("PKCE verification failed")
