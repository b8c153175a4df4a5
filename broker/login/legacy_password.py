"""A legacy account's username and password, from the broker's login page.

Organisations and foreigners log in this way as before. Citizens do until the cut-off (offered to link
VNeID), and from it are refused with the page that sends them to VNeID. A wrong password, an unknown
username, a held-back username or address and a refused citizen all see the same page, after the same
work (one slow verification, in the worker pool) and no sooner than the same floor: nothing tells, not even
the time, whether an account exists.

Brute force (SECURITY.md gate 8): every attempt is reserved in the database before any verification, per
username (folded: case and look-alikes count together; past the limit a slow-down whose hold-back doubles)
and per client address (a hard limit per window), so at most the limit of attempts verify whatever the
concurrency, on every replica.
"""

from __future__ import annotations

import asyncio
import hashlib
import time
from dataclasses import dataclass
from datetime import datetime, timedelta

from broker.domain import passwords
from broker.domain.accounts import LoginMethod
from broker.domain.login_flow import FlowState
from broker.domain.usernames import username_key
from broker.errors import LoginFlowError, Overloaded
from broker.login import account_state, flow_guard
from broker.login.complete import complete
from broker.login.outcomes import Outcome, Page
from broker.oidc.discovery import ACR_LEGACY
from broker.registry import Registry
from broker.store import accounts, audit, legacy, throttle
from broker.store.database import Session
from broker.store.tables import Account, LegacyAccount

_SLOW_SCHEMES = ("argon2id", "bcrypt")
MAX_USERNAME = 200
MAX_PASSWORD = 1024


@dataclass(frozen=True)
class _Verified:
    record: LegacyAccount
    account: Account


async def log_in(
    registry: Registry,
    flow_id: str | None,
    browser: str | None,
    username: str,
    password: str,
    client_address: str | None = None,
) -> Outcome:
    started = time.monotonic()
    flow = await flow_guard.load(registry, flow_id, browser)
    if flow.state not in (FlowState.STARTED, FlowState.UPSTREAM_PENDING):
        raise LoginFlowError("flow_finished")
    refused = Page("password_refused", flow.id)
    pool = registry.passwords
    if pool.saturated():
        registry.metrics.logins.labels("legacy_password", "busy").inc()
        raise Overloaded("password_workers_saturated")  # 503 + Retry-After; no attempt counted
    # A NUL byte or other invisible character is dropped by the username key, so such a variant counts
    # against the same budget as the plain username; a NUL in a password never verifies.
    if not username or len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD:
        await pool.verify_dummy(password[:MAX_PASSWORD])
        return await _refuse(registry, refused, None, "malformed", started)
    key = username_key(username)
    settings = registry.settings
    now = registry.clock()

    async with registry.db.read() as session:
        records = await legacy.by_username_key(session, key)
    reason = await _reserve(registry, key, client_address, now)
    if reason is not None:
        await pool.verify_dummy(password)  # the same work as a real check: a hold-back is invisible
        return await _refuse(registry, refused, None, reason, started)

    verified = await _verify(registry, records, password)
    if verified is None:
        return await _refuse(registry, refused, None, "bad_credentials", started)

    account = verified.account
    async with registry.db.transaction() as session:
        await throttle.clear(session, _username_key(key))
        await throttle.give_back(
            session, _address_key(client_address), settings.login_max_attempts_per_address
        )
        decision = await account_state.may_log_in(
            registry, session, account, LoginMethod.LEGACY_PASSWORD, now
        )
        if not decision.allowed:
            await _audit(session, registry, account.sub, "refused", decision.reason)
        else:
            await flow_guard.advance(
                session,
                flow.id,
                FlowState.AUTHENTICATED,
                now,
                account_id=account.id,
                auth_time=now,
                acr=ACR_LEGACY,
                amr=["pwd"],
            )
            if decision.suggest_linking:
                outcome: Outcome = Page("suggest_link", flow.id)
            else:
                outcome = await complete(registry, session, flow.id)
            # Last in the transaction: the audit chain's lock is held only until the commit just after.
            await _audit(session, registry, account.sub, "allowed", None)
    if not decision.allowed:
        registry.metrics.logins.labels("legacy_password", decision.reason).inc()
        await _pad(registry, started)
        return refused
    await _rehash_if_weak(registry, verified.record, password)
    registry.metrics.logins.labels("legacy_password", "success").inc()
    return outcome


async def _reserve(registry: Registry, key: str, client_address: str | None, now: datetime) -> str | None:
    """Takes this attempt from the address's and the username's budgets, committed before any
    verification; the reason of the refusal when either is spent."""
    settings = registry.settings
    window = timedelta(seconds=settings.login_failure_window_seconds)
    async with registry.db.transaction() as session:
        # The address first: an address over its budget does not spend the username's.
        if not await throttle.reserve(
            session,
            _address_key(client_address),
            now,
            window=window,
            limit=settings.login_max_attempts_per_address,
            hold_back=window,
            hold_back_cap=window,
        ):
            return "address_limited"
        if not await throttle.reserve(
            session,
            _username_key(key),
            now,
            window=window,
            limit=settings.login_max_failures,
            hold_back=timedelta(seconds=settings.login_backoff_seconds),
            hold_back_cap=timedelta(seconds=settings.login_lockout_seconds),
        ):
            return "locked"
    return None


async def _verify(registry: Registry, records: list[LegacyAccount], password: str) -> _Verified | None:
    """The record whose password matches, and its surviving account."""
    pool = registry.passwords
    # Every attempt pays one slow verification, so timing does not tell known usernames whose hash is
    # fast (MD5, salted SHA-256) from unknown ones.
    if not any(record.hash_scheme in _SLOW_SCHEMES for record in records):
        await pool.verify_dummy(password)
    for record in records:
        if not await pool.verify(password, record.password_hash, record.hash_scheme):
            continue
        async with registry.db.read() as session:
            account = await accounts.get(session, record.account_id)
            while account is not None and account.merged_into_id is not None:
                account = await accounts.get(session, account.merged_into_id)
        if account is not None:
            return _Verified(record, account)
    return None


async def _rehash_if_weak(registry: Registry, record: LegacyAccount, password: str) -> None:
    """Replaces a weak or outdated hash by Argon2id: hashed in the pool first, then one short conditional
    UPDATE, so no write lock is held while hashing."""
    if not passwords.needs_rehash(record.hash_scheme, record.password_hash):
        return
    assert record.id is not None
    rehashed = await registry.passwords.hash(password)
    async with registry.db.transaction() as session:
        await legacy.replace_password_hash(session, record.id, record.password_hash, rehashed, "argon2id")


def _username_key(key: str) -> str:
    return hashlib.sha256(key.encode()).hexdigest()


def _address_key(address: str | None) -> str:
    return hashlib.sha256(f"address:{address or 'unknown'}".encode()).hexdigest()


async def _pad(registry: Registry, started: float) -> None:
    """Every refusal answers no sooner than the configured floor after the attempt arrived."""
    remaining = registry.settings.password_refusal_floor_seconds - (time.monotonic() - started)
    if remaining > 0:
        await asyncio.sleep(remaining)


async def _refuse(registry: Registry, page: Page, sub: str | None, reason: str, started: float) -> Page:
    registry.metrics.logins.labels("legacy_password", reason).inc()
    async with registry.db.transaction() as session:
        await _audit(session, registry, sub, "refused", reason)
    await _pad(registry, started)
    return page


async def _audit(
    session: Session, registry: Registry, sub: str | None, outcome: str, reason: str | None
) -> None:
    await audit.append(
        session,
        at=registry.clock(),
        actor=f"citizen:{sub}" if sub else "anonymous",
        action="login.password",
        outcome=outcome,
        reason=reason,
        sub=sub,
    )
