"""RP-initiated logout (OpenID Connect RP-Initiated Logout 1.0) ending the broker's SSO session.

With a valid ``id_token_hint`` for the browser's own session the session ends at once; otherwise the person
confirms on a page whose POST form carries a token bound to the session cookie (CSRF). Ending the session
queues back-channel logout for every relying party that took part (broker.login.backchannel), so logging
out of one procedure system at a shared desk logs the citizen out of all of them.
"""

from __future__ import annotations

import hmac
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

from broker.errors import InvalidRequest
from broker.login import session_end, sso, subjects, upstream_logout
from broker.login.ids import digest
from broker.oidc import authorize, end_session
from broker.registry import Registry
from broker.store import accounts, clients
from broker.store.tables import Client, SsoSession


@dataclass(frozen=True)
class Done:
    """The session (if any) has ended: go to ``redirect`` or show the logged-out page."""

    redirect: str | None
    client_name: str | None
    upstream_logout: str | None = None  # issue 10: front-channel logout at the upstream (upstream_logout)


@dataclass(frozen=True)
class Confirm:
    csrf: str
    client_name: str | None
    client_id: str | None
    post_logout_redirect_uri: str | None
    state: str | None


class LogoutRefused(Exception):
    """The request cannot be honoured (bad hint, unregistered post_logout_redirect_uri): a page, never a
    redirect."""

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


@dataclass(frozen=True)
class _Target:
    client: Client | None
    redirect: str | None
    hint: end_session.Hint | None


async def request(
    registry: Registry, params: Sequence[tuple[str, str]], cookie: str | None
) -> Done | Confirm:
    try:
        parsed = end_session.parse(params)
    except InvalidRequest as exc:
        raise LogoutRefused("invalid_request") from exc
    target = await _target(registry, parsed)
    current = await sso.current(registry, cookie)
    if current is None:
        return Done(target.redirect, target.client.name if target.client else None)
    if target.hint is not None and await _hint_is_for(registry, target.hint, target.client, current):
        upstream = await _end(registry, current.sid)
        return Done(target.redirect, target.client.name if target.client else None, upstream)
    assert cookie is not None
    return Confirm(
        csrf=csrf_token(registry, cookie),
        client_name=target.client.name if target.client else None,
        client_id=target.client.client_id if target.client else None,
        post_logout_redirect_uri=parsed.post_logout_redirect_uri,
        state=parsed.state,
    )


async def confirm(registry: Registry, form: Mapping[str, str], cookie: str | None) -> Done:
    """The person pressed "Đăng xuất" on the confirmation page."""
    parsed = end_session.EndSessionRequest(
        id_token_hint=None,
        post_logout_redirect_uri=form.get("post_logout_redirect_uri") or None,
        state=form.get("state") or None,
        client_id=form.get("client_id") or None,
    )
    target = await _target(registry, parsed)
    current = await sso.current(registry, cookie)
    upstream = None
    if current is not None:
        assert cookie is not None
        if not hmac.compare_digest(form.get("csrf", ""), csrf_token(registry, cookie)):
            raise LogoutRefused("csrf")
        upstream = await _end(registry, current.sid)
    return Done(target.redirect, target.client.name if target.client else None, upstream)


def csrf_token(registry: Registry, cookie: str) -> str:
    return hmac.new(registry.derived_key("logout-csrf"), digest(cookie).encode(), "sha256").hexdigest()


async def _target(registry: Registry, parsed: end_session.EndSessionRequest) -> _Target:
    hint = None
    if parsed.id_token_hint is not None:
        ring = await registry.keyring()
        hint = end_session.verify_hint(parsed.id_token_hint, ring, registry.settings.issuer)
        if hint is None:
            raise LogoutRefused("id_token_hint_invalid")
        if parsed.client_id is not None and parsed.client_id != hint.client_id:
            raise LogoutRefused("client_id_mismatch")
    client_id = hint.client_id if hint else parsed.client_id
    client = None
    if client_id is not None:
        async with registry.db.read() as session:
            client = await clients.get_enabled(session, client_id)
        if client is None:
            raise LogoutRefused("client_unknown")
    redirect = None
    if parsed.post_logout_redirect_uri is not None and client is not None:
        if not end_session.redirect_allowed(
            parsed.post_logout_redirect_uri, client.post_logout_redirect_uris
        ):
            raise LogoutRefused("post_logout_redirect_uri_mismatch")
        redirect = authorize.response_url(parsed.post_logout_redirect_uri, {"state": parsed.state})
    # With no client named (no hint, no client_id: Apache mod_auth_openidc's default) the URI cannot be
    # checked against a registration (RP-Initiated Logout 1.0 §3): the logout still happens, after the
    # person confirms, and ends on the broker's own "logged out" page instead of a redirect.
    return _Target(client, redirect, hint)


async def _hint_is_for(
    registry: Registry, hint: end_session.Hint, client: Client | None, current: SsoSession
) -> bool:
    """The hint names this browser's session (by ``sid``, or by the RP's ``sub`` of its account)."""
    if hint.sid is not None:
        return hmac.compare_digest(hint.sid, current.sid)
    if client is None:
        return False
    async with registry.db.read() as session:
        account = await accounts.get(session, current.account_id)
    return account is not None and subjects.for_client(registry, client, account) == hint.sub


async def _end(registry: Registry, sid: str) -> str | None:
    """Ends the session; returns the upstream's logout URL when the browser must visit it."""
    async with registry.db.transaction() as session:
        ended = await session_end.end(registry, session, sid, registry.clock())
    if ended:
        registry.metrics.sessions.labels("ended").inc()
        registry.backchannel_wakeup.set()
        return await upstream_logout.after_end(registry, sid)
    return None
