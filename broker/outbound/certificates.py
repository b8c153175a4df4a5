"""When the TLS certificates the broker depends on expire: its own public address (the issuer, served by
the reverse proxy in front of it) and each upstream's endpoints. A lapsed certificate at either end stops
every login at once, and nothing else warns before it happens.

Read by a TLS handshake that does not verify (an expired or self-signed certificate must still be read,
to say so), after which nothing is sent: a probe, never a request."""

from __future__ import annotations

import asyncio
import contextlib
import ssl
from collections.abc import Iterable
from datetime import datetime
from urllib.parse import urlsplit

from cryptography import x509


def https_hosts(urls: Iterable[str | None]) -> list[tuple[str, int]]:
    """The distinct (host, port) of the https URLs among ``urls``, in their order."""
    hosts: dict[tuple[str, int], None] = {}
    for url in urls:
        parts = urlsplit(url or "")
        if parts.scheme == "https" and parts.hostname:
            hosts[(parts.hostname, parts.port or 443)] = None
    return list(hosts)


def _probe_context() -> ssl.SSLContext:
    context = ssl.create_default_context()
    context.check_hostname = False
    context.verify_mode = ssl.CERT_NONE  # a probe reading the date: see the module's note
    return context


_CONTEXT = _probe_context()


async def not_after(host: str, port: int, timeout: float) -> datetime:  # noqa: ASYNC109 (bounds two awaits)
    """The end of validity of the certificate ``host:port`` presents; OSError or TimeoutError if none."""
    async with asyncio.timeout(timeout):
        _, writer = await asyncio.open_connection(host, port, ssl=_CONTEXT, server_hostname=host)
    try:
        der = writer.get_extra_info("ssl_object").getpeercert(binary_form=True)
    finally:
        writer.close()
        with contextlib.suppress(OSError, TimeoutError, ssl.SSLError):
            async with asyncio.timeout(timeout):
                await writer.wait_closed()
    if not der:
        raise OSError("no certificate presented")
    return x509.load_der_x509_certificate(der).not_valid_after_utc
