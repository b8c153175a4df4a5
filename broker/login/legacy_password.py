"""A legacy account's username and password, from the broker's login page.

Organisations and foreigners log in this way as before. Citizens do until the cut-off (offered to link
VNeID), and from it are refused with the page that sends them to VNeID. A wrong password, an unknown
username, a locked username and a refused citizen all see the same page: nothing tells whether an
account exists. Attempts per username (folded: case and look-alikes count together) are limited across
all replicas; a lock looks exactly like a wrong password.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from datetime import timedelta

from broker.domain import passwords
from broker.domain.accounts import AccountType, LoginMethod
from broker.domain.login_flow import FlowState
from broker.domain.policy import may_log_in
from broker.domain.usernames import username_key
from broker.errors import LoginFlowError
from broker.login import flow_guard
from broker.login.account_state import state_of
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
    registry: Registry, flow_id: str | None, browser: str | None, username: str, password: str
) -> Outcome:
    flow = await flow_guard.load(registry, flow_id, browser)
    if flow.state not in (FlowState.STARTED, FlowState.UPSTREAM_PENDING):
        raise LoginFlowError("flow_finished")
    refused = Page("password_refused", flow.id)
    if not username or len(username) > MAX_USERNAME or len(password) > MAX_PASSWORD or "\x00" in username:
        passwords.verify_dummy(password[:MAX_PASSWORD])
        return await _refuse(registry, refused, None, "malformed")
    key = username_key(username)
    throttle_key = hashlib.sha256(key.encode()).hexdigest()
    settings = registry.settings
    now = registry.clock()

    async with registry.db.read() as session:
        state = await throttle.get(session, throttle_key)
        records = await legacy.by_username_key(session, key)
    if state is not None and state.locked_until is not None and state.locked_until > now:
        passwords.verify_dummy(password)  # same cost as a real check: a lock is invisible
        return await _refuse(registry, refused, None, "locked")

    verified = await _verify(registry, records, password)
    if verified is None:
        async with registry.db.transaction() as session:
            await throttle.record_failure(
                session,
                throttle_key,
                now,
                timedelta(seconds=settings.login_failure_window_seconds),
                settings.login_max_failures,
                timedelta(seconds=settings.login_lockout_seconds),
            )
        return await _refuse(registry, refused, None, "bad_credentials")

    account = verified.account
    async with registry.db.transaction() as session:
        await throttle.clear(session, throttle_key)
        decision = may_log_in(
            AccountType(account.account_type),
            LoginMethod.LEGACY_PASSWORD,
            await state_of(session, account),
            now,
            settings.policy_rules(),
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
            await _audit(session, registry, account.sub, "allowed", None)
            if decision.suggest_linking:
                outcome: Outcome = Page("suggest_link", flow.id)
            else:
                outcome = await complete(registry, session, flow.id)
    if not decision.allowed:
        registry.metrics.logins.labels("legacy_password", decision.reason).inc()
        return refused
    registry.metrics.logins.labels("legacy_password", "success").inc()
    return outcome


async def _verify(registry: Registry, records: list[LegacyAccount], password: str) -> _Verified | None:
    """The record whose password matches, its surviving account; a weak hash is replaced by argon2id."""
    # Every attempt pays at least one slow verification, so timing does not tell known usernames
    # (whose hash may be slow) from unknown ones.
    if not any(record.hash_scheme in _SLOW_SCHEMES for record in records):
        passwords.verify_dummy(password)
    for record in records:
        if not passwords.verify(password, record.password_hash, record.hash_scheme):
            continue
        async with registry.db.transaction() as session:
            current = await legacy.get(session, record.id)
            assert current is not None
            if passwords.needs_rehash(current.hash_scheme, current.password_hash):
                current.password_hash = passwords.hash_password(password)
                current.hash_scheme = "argon2id"
            account = await accounts.get(session, current.account_id)
            while account is not None and account.merged_into_id is not None:
                account = await accounts.get(session, account.merged_into_id)
        if account is not None:
            return _Verified(current, account)
    return None


async def _refuse(registry: Registry, page: Page, sub: str | None, reason: str) -> Page:
    registry.metrics.logins.labels("legacy_password", reason).inc()
    async with registry.db.transaction() as session:
        await _audit(session, registry, sub, "refused", reason)
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
