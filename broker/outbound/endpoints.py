"""Where the broker may send a request a relying party asked for: refuses endpoints that resolve to the
broker's own network (loopback, private, link-local, reserved), so a stream cannot make the broker probe it.

The name is checked when a stream is saved (a clear 400 for the receiver) and again when each push
connects: ``PublicAddressTransport`` resolves the name once, refuses if any answer is internal, and
connects to the very addresses it checked. A check followed by a connection that resolves again would let
a name that answers a public address first and 127.0.0.1 next (DNS rebinding) reach the internal one."""

from __future__ import annotations

import asyncio
import ipaddress
import socket
import typing
from collections.abc import Awaitable, Callable
from urllib.parse import urlsplit

import httpcore
import httpx

from broker.outbound import tls
from broker.outbound.rp_http import FetchFailed

Resolver = Callable[[str, int], Awaitable[list[str]]]


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


async def system_resolver(host: str, port: int) -> list[str]:
    infos = await asyncio.get_running_loop().getaddrinfo(host, port, type=socket.SOCK_STREAM)
    return [str(info[4][0]) for info in infos]


async def public_addresses(
    host: str, port: int, resolve: Resolver = system_resolver, internal: Callable[[str], bool] = _internal
) -> list[str]:
    """Every address ``host`` resolves to, all of them public; raises FetchFailed otherwise."""
    try:
        addresses = await resolve(host, port)
    except OSError as exc:
        raise FetchFailed("the endpoint's host does not resolve") from exc
    if not addresses or any(internal(address) for address in addresses):
        raise FetchFailed("the endpoint resolves to an internal address")
    return addresses


def check_shape(url: str, *, require_https: bool) -> None:
    parts = urlsplit(url)
    if parts.scheme not in (("https",) if require_https else ("https", "http")) or not parts.hostname:
        raise FetchFailed("the endpoint must be an absolute https URL")
    if parts.fragment or parts.username or parts.password:
        raise FetchFailed("the endpoint must not carry a fragment or credentials")


async def check_public(url: str, *, allow_internal: bool, require_https: bool) -> None:
    """Raises FetchFailed when ``url`` is malformed, does not resolve, or resolves to an internal address."""
    check_shape(url, require_https=require_https)
    if allow_internal:
        return
    parts = urlsplit(url)
    await public_addresses(parts.hostname or "", parts.port or (443 if parts.scheme == "https" else 80))


class _PublicOnlyBackend(httpcore.AsyncNetworkBackend):
    """Connects to the addresses it has just checked, never to the name: TLS still verifies the name
    (httpcore passes the URL's host as the server name, whatever address the socket went to)."""

    def __init__(self, resolve: Resolver, internal: Callable[[str], bool]) -> None:
        self._inner = httpcore.AnyIOBackend()
        self._resolve = resolve
        self._internal = internal

    async def connect_tcp(
        self,
        host: str,
        port: int,
        timeout: float | None = None,  # noqa: ASYNC109 (httpcore's interface)
        local_address: str | None = None,
        socket_options: typing.Iterable[httpcore.SOCKET_OPTION] | None = None,
    ) -> httpcore.AsyncNetworkStream:
        try:
            addresses = await public_addresses(host, port, self._resolve, self._internal)
        except FetchFailed as exc:
            raise httpcore.ConnectError(str(exc)) from exc
        last: Exception | None = None
        for address in addresses:
            try:
                return await self._inner.connect_tcp(address, port, timeout, local_address, socket_options)
            except (httpcore.ConnectError, httpcore.ConnectTimeout) as exc:
                last = exc
        assert last is not None
        raise last

    async def connect_unix_socket(
        self, *args: typing.Any, **kwargs: typing.Any
    ) -> httpcore.AsyncNetworkStream:
        raise httpcore.ConnectError("unix sockets are not endpoints")

    async def sleep(self, seconds: float) -> None:
        await self._inner.sleep(seconds)


class PublicAddressTransport(httpx.AsyncHTTPTransport):
    """httpx's own transport (its request mapping and error translation) over a pool whose connections go
    only to checked public addresses. httpx takes no network backend, so its pool is replaced: the one
    private attribute this module touches, pinned by the lock file."""

    def __init__(
        self, resolve: Resolver = system_resolver, internal: Callable[[str], bool] = _internal
    ) -> None:
        super().__init__(verify=tls.client_context(), trust_env=False)
        self._pool = httpcore.AsyncConnectionPool(
            ssl_context=tls.client_context(),
            max_connections=100,
            max_keepalive_connections=20,
            keepalive_expiry=5.0,
            network_backend=_PublicOnlyBackend(resolve, internal),
        )
