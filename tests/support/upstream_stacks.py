"""Mock VNeID in each of its modes and the broker configured for it, on loopback (issue 10)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Any

from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from broker.app import create_app
from broker.clock import Clock
from broker.settings import Settings
from mock_vneid.app import create_app as create_mock_vneid
from mock_vneid.settings import MockSettings
from tests.conftest import Stack
from tests.support.servers import LiveServer, free_port


def rsa_key_pair() -> tuple[str, str]:
    """(private PEM, public PEM) of a fresh RSA key: the broker's gateway key."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    private = key.private_bytes(
        serialization.Encoding.PEM, serialization.PrivateFormat.PKCS8, serialization.NoEncryption()
    ).decode()
    public = (
        key.public_key()
        .public_bytes(serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo)
        .decode()
    )
    return private, public


GATEWAY_KEYS = rsa_key_pair()  # generated once per test session: RSA generation is slow


class ModeStacks:
    """Starts mock VNeIDs and brokers; stops them all at the end of the test."""

    def __init__(self, tmp_path: Path, database_url: str) -> None:
        self._tmp = tmp_path
        self._database_url = database_url
        self.started: list[LiveServer] = []

    def mock(
        self, mode: str, broker_url: str, clock: Clock | None = None, **overrides: Any
    ) -> tuple[LiveServer, MockSettings]:
        port = free_port()
        settings = MockSettings(
            issuer=f"http://127.0.0.1:{port}",
            key_file=self._tmp / f"vneid-{port}" / "signing_key.pem",
            redirect_uris=[f"{broker_url}/login/vneid/callback"],
            test_controls=True,
            mode=mode,
            rp_public_key_pem=GATEWAY_KEYS[1] if mode == "vneid-gateway" else None,
            **overrides,
        )
        server = LiveServer(create_mock_vneid(settings, clock), port).start()
        self.started.append(server)
        return server, settings

    def broker(
        self, broker_port: int, clock: Clock | None = None, **settings_values: Any
    ) -> tuple[LiveServer, Settings]:
        settings = Settings(
            database_url=self._database_url,
            issuer=f"http://127.0.0.1:{broker_port}",
            vneid_jwks_min_refetch_seconds=0,
            **settings_values,
        )
        server = LiveServer(create_app(settings, clock), broker_port).start()
        self.started.append(server)
        return server, settings

    def single(
        self,
        mode: str,
        *,
        clock: Clock | None = None,
        cipher_mode: str = "ecb",
        mock_overrides: dict[str, Any] | None = None,
        **broker_values: Any,
    ) -> Stack:
        """One mock VNeID in ``mode``, and the broker's default upstream in the same mode (as `make run`)."""
        broker_port = free_port()
        broker_url = f"http://127.0.0.1:{broker_port}"
        gateway = {"gateway_cipher_mode": cipher_mode} if mode == "vneid-gateway" else {}
        vneid, vneid_settings = self.mock(mode, broker_url, clock, **gateway, **(mock_overrides or {}))
        if mode == "vneid-gateway":
            broker_values |= {
                "vneid_gateway_private_key_pem": GATEWAY_KEYS[0],
                "vneid_gateway_cipher_mode": cipher_mode,
            }
        broker, settings = self.broker(
            broker_port, clock, vneid_issuer=vneid.url, vneid_mode=mode, **broker_values
        )
        return Stack(vneid, broker, settings, vneid_settings)

    def stop(self) -> None:
        for server in reversed(self.started):
            server.stop()


ModeStackFactory = Callable[..., Stack]
