"""Signing officers in to the console: the console is a relying party of the broker's own OpenID
Provider (client ``broker-console``, public, PKCE), so staff log in exactly as citizens do at any
relying party, through ``/authorize`` — VNeID, the policy, single sign-on, assurance checks and the
audit trail all apply unchanged, and a broker logout ends the console too.

Only the code redemption is in-process: the console would otherwise call its own token endpoint over
HTTP. It is held to what the token endpoint demands (single use by a conditional UPDATE, client,
redirect URI, expiry, PKCE S256), and additionally to a VNeID login (``acr`` level 1 or 2): a legacy
password never opens the console. The console session is a database row (replicas stay stateless)
tied to the broker SSO session the code came from; the browser holds a random cookie stored hashed,
and every form carries the session's CSRF token.
"""

from __future__ import annotations

import hashlib
import hmac
import secrets
from dataclasses import dataclass
from datetime import timedelta
from urllib.parse import urlencode

from authlib.oauth2.rfc7636 import create_s256_code_challenge

from broker.errors import StoreConflict
from broker.oidc import assurance, pkce
from broker.registry import Registry
from broker.store import accounts, audit, clients, grants, roles
from broker.store import console as console_store
from broker.store.database import Session
from broker.store.tables import Account, Client, ConsoleSession

CLIENT_ID = "broker-console"
CLIENT_NAME = "Bảng điều khiển cán bộ (Cổng xác thực)"
CALLBACK_PATH = "/console/callback"
LOGIN_COOKIE_SECONDS = 600


class ConsoleSignInRefused(Exception):
    """The sign-in did not open a console session; ``reason`` is a code shown on the page."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class SignInStart:
    authorize_url: str
    cookie: str  # "state.verifier": kept by this browser only, HttpOnly, for the callback


@dataclass(frozen=True)
class Officer:
    """A signed-in member of staff, as every console request sees them."""

    account: Account
    roles: frozenset[str]
    csrf_token: str
    cookie_hash: str

    @property
    def sub(self) -> str:
        return self.account.sub

    @property
    def actor(self) -> str:
        return f"officer:{self.account.sub}"


def _hash(value: str) -> str:
    return hashlib.sha256(value.encode()).hexdigest()


def callback_uri(registry: Registry) -> str:
    return registry.settings.issuer + CALLBACK_PATH


async def ensure_client(registry: Registry) -> None:
    """Registers the console as a client of the broker, once (and again if the issuer moved)."""
    uri = callback_uri(registry)
    async with registry.db.read() as session:
        existing = await clients.get(session, CLIENT_ID)
    if existing is not None and existing.redirect_uris == [uri]:
        return
    try:
        async with registry.db.transaction() as session:
            client = await clients.get(session, CLIENT_ID)
            if client is None:
                await clients.add(
                    session,
                    Client(
                        client_id=CLIENT_ID,
                        name=CLIENT_NAME,
                        redirect_uris=[uri],
                        token_endpoint_auth_method="none",
                        grant_types=["authorization_code"],
                        minimum_acr=assurance.ACR_LEVEL_1,
                        created_at=registry.clock(),
                    ),
                )
            else:
                client.redirect_uris = [uri]
    except StoreConflict:
        return  # another replica registered it at the same moment


async def begin(registry: Registry) -> SignInStart:
    await ensure_client(registry)
    state, verifier = secrets.token_urlsafe(24), secrets.token_urlsafe(48)
    query = urlencode(
        {
            "response_type": "code",
            "client_id": CLIENT_ID,
            "redirect_uri": callback_uri(registry),
            "scope": "openid",
            "state": state,
            "code_challenge": create_s256_code_challenge(verifier),
            "code_challenge_method": "S256",
        }
    )
    return SignInStart(f"{registry.settings.issuer}/authorize?{query}", f"{state}.{verifier}")


async def finish(registry: Registry, code: str | None, state: str | None, cookie: str | None) -> str:
    """Redeems the console's code; returns the new console session's cookie."""
    expected_state, _, verifier = (cookie or "").partition(".")
    if not code or not state or not expected_state or not hmac.compare_digest(state, expected_state):
        raise ConsoleSignInRefused("console_state_mismatch")
    now = registry.clock()
    token = secrets.token_urlsafe(32)
    async with registry.db.transaction() as session:
        # One conditional UPDATE: of any number of concurrent redemptions, exactly one gets the code.
        stored = await grants.claim_code(session, _hash(code), CLIENT_ID)
        if stored is None:
            raise ConsoleSignInRefused("console_code_invalid")
        if (
            stored.expires_at <= now
            or stored.redirect_uri != callback_uri(registry)
            or not pkce.verify(verifier, stored.code_challenge)
        ):
            raise ConsoleSignInRefused("console_code_invalid")
        account = await accounts.get(session, stored.account_id)
        assert account is not None
        if assurance.level_of(stored.acr) < 1:
            await _audit_sign_in(registry, session, account, "refused", "vneid_required")
            refusal = ConsoleSignInRefused("vneid_required")
        else:
            await console_store.add_session(
                session,
                ConsoleSession(
                    cookie_hash=_hash(token),
                    account_id=stored.account_id,
                    sid=stored.sid,
                    csrf_token=secrets.token_urlsafe(32),
                    created_at=now,
                    expires_at=now + timedelta(seconds=registry.settings.console_session_ttl_seconds),
                ),
            )
            await _audit_sign_in(registry, session, account, "allowed", None)
            return token
    raise refusal  # after the block: the refusal's audit entry is committed


async def current(registry: Registry, cookie: str | None) -> Officer | None:
    """The officer behind a console cookie, with the roles they hold now (a revoked role stops at once)."""
    if not cookie:
        return None
    now = registry.clock()
    async with registry.db.read() as session:
        console = await console_store.live_session(session, _hash(cookie), now)
        if console is None:
            return None
        account = await accounts.get(session, console.account_id)
        if account is None or account.merged_into_id is not None:
            return None
        held = frozenset(await roles.of_account(session, console.account_id))
    return Officer(account, held, console.csrf_token, console.cookie_hash)


def csrf_ok(officer: Officer, submitted: str | None) -> bool:
    return bool(submitted) and hmac.compare_digest(officer.csrf_token, submitted or "")


async def sign_out(registry: Registry, officer: Officer) -> None:
    now = registry.clock()
    async with registry.db.transaction() as session:
        await console_store.end_session(session, officer.cookie_hash, now)
        await audit.append(
            session, at=now, actor=officer.actor, action="console.logout", outcome="done", sub=officer.sub
        )


async def _audit_sign_in(
    registry: Registry, session: Session, account: Account, outcome: str, reason: str | None
) -> None:
    await audit.append(
        session,
        at=registry.clock(),
        actor=f"officer:{account.sub}",
        action="console.login",
        outcome=outcome,
        reason=reason,
        sub=account.sub,
    )
