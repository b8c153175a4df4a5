"""The upstreams' connections (broker.upstream.wire) over real loopback servers, for what the client's own
tests (test_upstream_http.py) do not reach: TLS verified against the caller's trust, answers framed every
way HTTP/1.1 allows (a length, chunks, the connection's end), an interim answer before the real one, header
values that would split the request refused before anything is sent, an answer too large refused, and the
pool's bound on connections."""

from __future__ import annotations

import asyncio
import ipaddress
import ssl
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from cryptography import x509
from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import ec
from cryptography.x509.oid import NameOID

from broker.upstream import wire
from broker.upstream.wire import Connections, NoAnswer, WireTimeout
from tests.support.raw_http import Server, answer, serve


def connections(**bounds: float) -> Connections:
    limits = {"connect_timeout": 1.0, "read_timeout": 2.0, "pool_timeout": 2.0} | bounds
    return Connections(**limits)  # type: ignore[arg-type]


async def raw_server(reply: bytes, close_after: bool = False) -> AsyncIterator[str]:
    """Answers each request's head with ``reply``, then closes the connection if ``close_after``."""

    async def handle(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        try:
            while True:
                await reader.readuntil(b"\r\n\r\n")
                writer.write(reply)
                await writer.drain()
                if close_after:
                    break
        except (asyncio.IncompleteReadError, ConnectionError):
            pass
        writer.close()

    listening = await asyncio.start_server(handle, "127.0.0.1", 0)
    async with listening:
        yield f"http://127.0.0.1:{listening.sockets[0].getsockname()[1]}"


async def test_answers_framed_by_length_by_chunks_and_by_the_connection_s_end() -> None:
    client = connections()
    chunked = b'HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n4\r\n{"a"\r\n3\r\n:1}\r\n0\r\n\r\n'
    until_close = b'HTTP/1.1 200 OK\r\nContent-Type: application/json\r\n\r\n{"b":2}'
    interim = b"HTTP/1.1 100 Continue\r\n\r\n" + answer(b"{}", "201 Created")
    try:
        async for url in raw_server(answer(b'{"c":3}')):
            assert (await client.request("GET", f"{url}/x", {}))[:2] == (200, b'{"c":3}')
        async for url in raw_server(chunked):
            assert (await client.request("GET", f"{url}/x", {}))[:2] == (200, b'{"a":1}')
        async for url in raw_server(until_close, close_after=True):
            assert (await client.request("GET", f"{url}/x", {}))[:2] == (200, b'{"b":2}')
        async for url in raw_server(interim):
            assert (await client.request("POST", f"{url}/x", {}, b"x=1"))[:2] == (201, b"{}")
    finally:
        await client.close()


async def test_a_header_that_would_split_the_request_is_refused_before_anything_is_sent() -> None:
    server = Server(reply=answer(b"{}"))
    client = connections()
    try:
        async for url in serve(server):
            for value in ("a\r\nX-Injected: 1", "a\nb", "a\0b"):
                with pytest.raises(NoAnswer, match="split"):
                    await client.request("GET", f"{url}/userinfo", {"Authorization": f"Bearer {value}"})
            assert (await client.request("GET", f"{url}/userinfo", {"Authorization": "Bearer a"}))[0] == 200
    finally:
        await client.close()
    assert [line for line, _, _ in server.requests] == ["GET /userinfo HTTP/1.1"]


async def test_an_answer_too_large_is_no_answer(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(wire, "MAX_ANSWER_BYTES", 1000)
    client = connections()
    try:
        async for url in raw_server(answer(b"x" * 2000)):
            with pytest.raises(NoAnswer, match="too large") as refused:
                await client.request("GET", f"{url}/jwks", {})
            assert refused.value.head is not None and refused.value.head[0] == 200
    finally:
        await client.close()


async def test_a_url_that_is_not_http_is_no_answer() -> None:
    client = connections()
    for url in ("ftp://127.0.0.1/x", "http:///x", "http://127.0.0.1:99999/x"):
        with pytest.raises(NoAnswer, match="not an http"):
            await client.request("GET", url, {})


async def test_calls_beyond_the_limit_wait_for_a_connection_and_give_up_at_the_pool_timeout() -> None:
    server = Server(reply=answer(b"{}"), delay=0.2)
    patient = Connections(connect_timeout=1.0, read_timeout=5.0, pool_timeout=5.0, limit=2)
    hurried = Connections(connect_timeout=1.0, read_timeout=5.0, pool_timeout=0.3, limit=2)
    try:
        async for url in serve(server):
            answers = await asyncio.gather(*(patient.request("GET", f"{url}/u", {}) for _ in range(5)))
            assert [status for status, _, _ in answers] == [200] * 5
            assert server.connections == 2  # five calls, two connections, taken in turn
        slow = Server(reply=answer(b"{}"), delay=1.5)
        async for url in serve(slow):
            calls = [hurried.request("GET", f"{url}/u", {}) for _ in range(3)]
            outcomes = await asyncio.gather(*calls, return_exceptions=True)
            assert sum(isinstance(outcome, WireTimeout) for outcome in outcomes) == 1
            assert sum(isinstance(outcome, tuple) for outcome in outcomes) == 2
    finally:
        await patient.close()
        await hurried.close()


def _certificate(directory: Path) -> tuple[Path, ssl.SSLContext]:
    key = ec.generate_private_key(ec.SECP256R1())
    name = x509.Name([x509.NameAttribute(NameOID.COMMON_NAME, "localhost")])
    now = datetime.now(UTC)
    certificate = (
        x509.CertificateBuilder()
        .subject_name(name)
        .issuer_name(name)
        .public_key(key.public_key())
        .serial_number(x509.random_serial_number())
        .not_valid_before(now - timedelta(days=1))
        .not_valid_after(now + timedelta(days=30))
        .add_extension(
            x509.SubjectAlternativeName(
                [x509.DNSName("localhost"), x509.IPAddress(ipaddress.ip_address("127.0.0.1"))]
            ),
            critical=False,
        )
        .add_extension(x509.BasicConstraints(ca=True, path_length=None), critical=True)
        .sign(key, hashes.SHA256())
    )
    (directory / "cert.pem").write_bytes(certificate.public_bytes(serialization.Encoding.PEM))
    (directory / "key.pem").write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
        )
    )
    served = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    served.load_cert_chain(directory / "cert.pem", directory / "key.pem")
    return directory / "cert.pem", served


async def test_tls_is_verified_against_the_caller_s_trust(tmp_path: Path) -> None:
    certificate, served = _certificate(tmp_path)
    server = Server(reply=answer(b'{"ok":true}'))
    listening = await asyncio.start_server(server.handle, "127.0.0.1", 0, ssl=served)
    port = listening.sockets[0].getsockname()[1]
    trusting = Connections(
        connect_timeout=2.0,
        read_timeout=2.0,
        pool_timeout=2.0,
        ssl_context=ssl.create_default_context(cafile=str(certificate)),
    )
    default = connections()
    try:
        async with listening:
            status, body, _ = await trusting.request("GET", f"https://localhost:{port}/userinfo", {})
            assert (status, body) == (200, b'{"ok":true}')
            with pytest.raises(ssl.SSLCertVerificationError):
                await default.request("GET", f"https://localhost:{port}/userinfo", {})
    finally:
        await trusting.close()
        await default.close()
    line, headers, _ = server.requests[0]
    assert line == "GET /userinfo HTTP/1.1"
    assert headers["host"] == f"localhost:{port}"
    assert len(server.requests) == 1  # the untrusted handshake sent nothing
