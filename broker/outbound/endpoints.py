"""Where the broker may send a request a relying party asked for: refuses endpoints that resolve to the
broker's own network (loopback, private, link-local, reserved), so a stream cannot make the broker probe it."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
from urllib.parse import urlsplit

from broker.outbound.rp_http import FetchFailed


def _internal(address: str) -> bool:
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return (
        ip.is_private
        or ip.is_loopback
        or ip.is_link_local
        or ip.is_multicast
        or ip.is_reserved
        or ip.is_unspecified
    )


def check_shape(url: str, *, require_https: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in (("https",) if require_https else ("https", "http")) or not parts.hostname:
        raise FetchFailed("the endpoint must be an absolute https URL")
    if parts.fragment or parts.username or parts.password:
        raise FetchFailed("the endpoint must not carry a fragment or credentials")


async def check_public(url: str, *, allow_internal: bool, require_https: bool) -> None:
    """Raises FetchFailed when ``url`` is malformed, does not resolve, or resolves to an internal address.

    Checked when the stream is saved and again before every push (DNS may change in between)."""
    check_shape(url, require_https=require_https)
    if allow_internal:
        return
    parts = urlsplit(url)
    host = parts.hostname or ""
    port = parts.port or (443 if parts.scheme == "https" else 80)
    try:
        infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except OSError as exc:
        raise FetchFailed("the endpoint's host does not resolve") from exc
    if not infos or any(_internal(str(info[4][0])) for info in infos):
        raise FetchFailed("the endpoint resolves to an internal address")
