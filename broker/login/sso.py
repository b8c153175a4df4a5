"""Single sign-on at the broker (OIDC Core §3.1.2.1 ``prompt``, ``max_age``, ``acr_values``).

A successful upstream login opens (or renews) a server-side session; the browser holds only a random
cookie, stored as its SHA-256. The next /authorize of any relying party in that browser gets a code
without a login page, unless the request demands a fresh login (``prompt=login``, an exceeded
``max_age``) or a higher level than the session reached.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from broker.clock import seconds
from broker.domain.accounts import LoginMethod
from broker.domain.identity import VerifiedIdentity
from broker.domain.login_flow import FlowState
from broker.errors import ClientRedirect, UnmetAuthenticationRequirements
from broker.login import account_state, session_end
from broker.login.ids import digest, new_token
from broker.oidc import assurance, authorize
from broker.oidc.authorize import AuthorizationRequest
from broker.oidc.discovery import ACR_LEGACY
from broker.registry import Registry
from broker.store import accounts, audit, flow_requirements, flows, sessions
from broker.store.database import Session
from broker.store.tables import Account, LoginFlow, LoginFlowRequirement, SsoSession


class Unread:
    """A value the caller has not read (as opposed to one it read and found absent)."""


UNREAD = Unread()


@dataclass(frozen=True)
class SignedIn:
    """Where the browser goes next, and the session cookie it now holds."""

    url: str
    session_cookie: str | None


@dataclass(frozen=True)
class Opened:
    sid: str
    cookie: str


async def current(registry: Registry, cookie: str | None) -> SsoSession | None:
    if not cookie:
        return None
    async with registry.db.read() as session:
        return await sessions.find_live(session, digest(cookie), registry.clock())


async def current_for_login(registry: Registry, cookie: str | None) -> SsoSession | None:
    """The browser's session if the policy still lets its account log in the way it did (it may have
    been disabled or merged, or the cut-off passed, since): otherwise no session, and the refusal is
    audited with the policy's reason; the login page then asks again, and refuses with the reason."""
    found = await current(registry, cookie)
    if found is None:
        return None
    now = registry.clock()
    method = LoginMethod.LEGACY_PASSWORD if found.acr == ACR_LEGACY else LoginMethod.VNEID
    async with registry.db.read() as session:
        account = await accounts.get(session, found.account_id)
        decision = (
            await account_state.may_log_in(registry, session, account, method, now)
            if account is not None
            else None
        )
    if decision is not None and decision.allowed:
        return found
    reason = decision.reason.value if decision is not None else "account_missing"
    async with registry.db.transaction() as session:
        await audit.append(
            session,
            at=now,
            actor=f"citizen:{account.sub}" if account is not None else "anonymous",
            action="login.sso",
            outcome="refused",
            reason=reason,
            sub=account.sub if account is not None else None,
        )
    registry.metrics.sessions.labels("refused").inc()
    return None


def login_needed(
    sso: SsoSession | None, request: AuthorizationRequest, min_level: int, now: datetime
) -> str | None:
    """Why this request cannot be answered from the session (a reason code), or None when it can."""
    if sso is None:
        return "no_session"
    if "login" in request.prompt:
        return "prompt_login"
    if request.max_age is not None and now - sso.auth_time > timedelta(seconds=request.max_age):
        return "max_age"
    if assurance.level_of(sso.acr) < min_level:
        return "acr"
    return None


async def require_assurance(
    registry: Registry,
    flow: LoginFlow,
    requirement: LoginFlowRequirement | None,
    identity: VerifiedIdentity,
) -> None:
    """Refuses, at the RP's redirect URI, an upstream login below the level the flow's ``requirement``
    asks for."""
    if requirement is None or assurance.level_of(identity.acr) >= requirement.min_level:
        return
    async with registry.db.transaction() as session:
        await flows.move(session, flow.id, FlowState.FAILED, registry.clock(), failure_reason="acr_not_met")
    registry.metrics.logins.labels("vneid", "acr_not_met").inc()
    error = UnmetAuthenticationRequirements("the login did not reach the requested level of assurance")
    raise ClientRedirect(
        authorize.error_url(flow.redirect_uri, error, flow.rp_state, registry.settings.issuer)
    )


async def open_session(
    registry: Registry,
    session: Session,
    flow: LoginFlow,
    account: Account,
    *,
    auth_time: datetime,
    acr: str,
    amr: list[str],
    requirement: LoginFlowRequirement | Unread | None = UNREAD,
    upstream: tuple[str, str | None] | None = None,
) -> Opened:
    """After an upstream login: renews the browser's session of the same account (same ``sid``, so its
    relying parties stay in it), or ends another account's session and opens a new one.

    ``requirement``: the flow's, when the caller read it already; ``upstream``: the upstream the login
    came through and its logout URL (issue 10), kept with the session."""
    now = registry.clock()
    cookie = new_token()
    amr = list(amr) or ["pwd"]
    expires_at = now + seconds(registry.settings.sso_session_ttl_seconds)
    noted = {"upstream_id": upstream[0], "upstream_logout_uri": upstream[1]} if upstream else {}
    if isinstance(requirement, Unread):
        requirement = await flow_requirements.get(session, flow.id)
    prior = (
        await sessions.get(session, requirement.prior_sid) if requirement and requirement.prior_sid else None
    )
    if prior is not None and prior.ended_at is None:
        if prior.account_id == account.id and await sessions.renew(
            session,
            prior.sid,
            now,
            cookie_hash=digest(cookie),
            auth_time=auth_time,
            acr=acr,
            amr=amr,
            expires_at=expires_at,
            **noted,
        ):
            return Opened(prior.sid, cookie)
        if prior.account_id != account.id:
            # Someone else now signs in on this browser (a shared desk computer): the first person's
            # session ends everywhere.
            await session_end.end(registry, session, prior.sid, now)
    assert account.id is not None
    opened, columns = new_session(registry, account.id, auth_time, acr, amr, upstream, now, cookie)
    await sessions.add(session, **columns)
    return opened


def new_session(
    registry: Registry,
    account_id: int,
    auth_time: datetime,
    acr: str,
    amr: list[str],
    upstream: tuple[str, str | None] | None,
    now: datetime,
    cookie: str | None = None,
) -> tuple[Opened, dict[str, Any]]:
    """A new SSO session after an upstream login: its sid and cookie, and its row's columns."""
    cookie = cookie or new_token()
    sid = new_token()
    columns = {
        "sid": sid,
        "cookie_hash": digest(cookie),
        "account_id": account_id,
        "auth_time": auth_time,
        "acr": acr,
        "amr": list(amr) or ["pwd"],
        "created_at": now,
        "expires_at": now + seconds(registry.settings.sso_session_ttl_seconds),
        "upstream_id": upstream[0] if upstream else None,
        "upstream_logout_uri": upstream[1] if upstream else None,
    }
    return Opened(sid, cookie), columns
