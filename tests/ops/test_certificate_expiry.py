"""The TLS certificates the broker depends on (its issuer's host, behind the reverse proxy, and each
upstream's hosts) are read in the background and exposed with their expiry, so that
`TLSCertificateExpiringSoon` warns weeks before logins stop (issue 12 item 3).

Real TLS servers on loopback with certificates made here; a real broker process scraped over HTTP."""

from __future__ import annotations

import asyncio
import json
import ssl
import threading
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import httpx
import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID
from prometheus_client.parser import text_string_to_metric_families

from broker.settings import Settings
from tests.support.processes import BrokerProcess, broker_environment
from tests.support.servers import free_port

EXPIRY = "broker_tls_certificate_expiry_timestamp_seconds"
CLIENT = {"client_id": "broker", "client_secret": "s3cret-s3cret-s3cret"}


def _certificate(directory: Path, name: str, not_after: datetime) -> ssl.SSLContext:
    key = ec.generate_private_key(ec.SECP256R1())
    subject = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, name)])
    certificate = (
        x509.CertificateBuilder()
        .subject_name(subject)
        .issuer_name(subject)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(not_after - timedelta(days=400))
        .not_valid_after(not_after)
        .sign(key, hashes.SHA256())
    )
    (directory / f"{name}.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / f"{name}.key").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    context.load_cert_chain(directory / f"{name}.pem", directory / f"{name}.key")
    return context


class TlsServer:
    """A TLS listener in a thread of its own that completes handshakes and closes (a reverse proxy's front)."""

    def __init__(self, context: ssl.SSLContext) -> None:
        self.port = free_port()
        self.handshakes = 0
        self._loop = asyncio.new_event_loop()
        self._ready = threading.Event()
        self._context = context
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _run(self) -> None:
        async def answer(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
            self.handshakes += 1
            writer.close()

        server = self._loop.run_until_complete(
            asyncio.start_server(answer, "127.0.0.1", self.port, ssl=self._context)
        )
        self._ready.set()
        self._loop.run_forever()
        server.close()
        self._loop.run_until_complete(server.wait_closed())
        self._loop.close()

    def start(self) -> TlsServer:
        self._thread.start()
        assert self._ready.wait(10)
        return self

    def stop(self) -> None:
        self._loop.call_soon_threadsafe(self._loop.stop)
        self._thread.join(10)


@pytest.fixture
def proxy_and_upstream(tmp_path: Path) -> Iterator[tuple[TlsServer, TlsServer, datetime, datetime]]:
    soon = datetime(2026, 12, 1, 12, 0, tzinfo=UTC)
    lapsed = datetime(2024, 1, 1, tzinfo=UTC)  # expired: still read, to say so
    proxy = TlsServer(_certificate(tmp_path, "proxy", soon)).start()
    upstream = TlsServer(_certificate(tmp_path, "upstream", lapsed)).start()
    yield proxy, upstream, soon, lapsed
    proxy.stop()
    upstream.stop()


def _expiries(text: str) -> dict[str, float]:
    return {
        sample.labels["host"]: sample.value
        for family in text_string_to_metric_families(text)
        if family.name == EXPIRY
        for sample in family.samples
    }


def test_the_issuer_s_and_the_upstreams_certificates_are_exposed_with_their_expiry(
    tmp_path: Path, sqlite_databases, proxy_and_upstream
) -> None:  # type: ignore[no-untyped-def]
    proxy, upstream, soon, lapsed = proxy_and_upstream
    unreachable = free_port()
    settings = Settings(database_url=sqlite_databases.fresh(), issuer=f"https://127.0.0.1:{proxy.port}")
    upstreams = json.dumps(
        [
            {
                "id": "vneid",
                "type": "oauth2-userinfo",
                "issuer": f"https://localhost:{upstream.port}",
                **CLIENT,
            },
            {
                "id": "dvcqg",
                "type": "oauth2-userinfo",
                "issuer": f"https://127.0.0.1:{unreachable}",
                **CLIENT,
            },
        ]
    )
    env = broker_environment(settings, BROKER_UPSTREAMS=upstreams)
    broker = BrokerProcess(env, tmp_path / "log").wait_ready()
    try:
        seen: dict[str, float] = {}
        for _ in range(300):  # the first reading is taken at start-up, in the background
            seen = _expiries(httpx.get(f"{broker.url}/metrics").text)
            if len(seen) == 2:
                break
            threading.Event().wait(0.1)
    finally:
        broker.stop()
    assert seen == {
        f"127.0.0.1:{proxy.port}": soon.timestamp(),
        f"localhost:{upstream.port}": lapsed.timestamp(),
    }  # and the unreachable host has no reading rather than a wrong one
    assert f"127.0.0.1:{unreachable} not read" in broker.log
