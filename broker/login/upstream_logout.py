"""Issue 10: ending the broker's session ends the upstream's too, when the upstream gave a logout URL
(DVCQG's ``logoutUri``, a URL carrying a token). By the upstream's ``logout`` setting: ``front-channel``
sends the browser there (the person sees the upstream's own "logged out" page), ``back-channel`` has the
broker call it (the person stays on the broker's pages), ``none`` forgets it.

The hook for the logout code: ``after_end(registry, sid)`` once the session has ended (its transaction
committed); it returns the URL the browser must visit, or None.
"""

from __future__ import annotations

import logging
from urllib.parse import urlsplit

from broker.domain.identity import VerifiedIdentity
from broker.registry import Registry
from broker.store import upstream_sessions
from broker.upstream.config import UpstreamConfig

log = logging.getLogger(__name__)


def noted(registry: Registry, identity: VerifiedIdentity) -> tuple[str, str | None] | None:
    """What a session this login opens keeps of its upstream: its id and, if it gave one, its logout URL
    (written with the session itself, ``sso.open_session``)."""
    upstream_id = identity.extra.get("upstream")
    if upstream_id is None:
        return None
    adapter = registry.upstreams.get(upstream_id)
    uri = identity.extra.get("logout_uri")
    if adapter is None or adapter.config.logout == "none" or not _same_origin(uri, adapter.config):
        uri = None
    return upstream_id, uri


async def after_end(registry: Registry, sid: str) -> str | None:
    async with registry.db.transaction() as session:
        upstream_id, uri = await upstream_sessions.take_logout_uri(session, sid)
    adapter = registry.upstreams.get(upstream_id) if upstream_id else None
    if uri is None or adapter is None:
        return None
    if adapter.config.logout == "front-channel":
        return uri
    if not await adapter.http.call_logout(uri):
        log.warning("upstream %s: the back-channel logout call failed", adapter.id)
    return None


def _same_origin(uri: str | None, config: UpstreamConfig) -> bool:
    """The URL is the upstream's own (never a redirect the upstream's data could point anywhere)."""
    if not uri:
        return False
    target = urlsplit(uri)
    known = [config.issuer, config.authorization_endpoint, config.userinfo_endpoint]
    return target.scheme in ("https", "http") and any(
        (urlsplit(url).scheme, urlsplit(url).netloc) == (target.scheme, target.netloc) for url in known if url
    )
