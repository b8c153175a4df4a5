"""Signing keys: persisted, private to their owner, named by their RFC 7638 thumbprint."""

from __future__ import annotations

import base64
import hashlib
import json
import stat
from collections.abc import Callable
from pathlib import Path

from cryptography.hazmat.primitives.asymmetric import rsa
from fastapi import FastAPI
from jwt.algorithms import RSAAlgorithm

from mock_vneid.keys import jwk_thumbprint, load_or_create
from mock_vneid.settings import MockSettings
from tests.mock_vneid.vneid_kit import asgi_client


async def published_jwks(app: FastAPI) -> dict[str, object]:
    async with asgi_client(app) as client:
        jwks: dict[str, object] = (await client.get("/jwks")).json()
        return jwks


async def test_two_apps_with_the_same_key_file_publish_the_same_jwks(
    make_app: Callable[..., FastAPI], settings: MockSettings
) -> None:
    assert not settings.key_file.exists()

    first = await published_jwks(make_app())
    second = await published_jwks(make_app())

    assert first == second


async def test_another_key_file_means_another_key(make_app: Callable[..., FastAPI], tmp_path: Path) -> None:
    first = await published_jwks(make_app(key_file=tmp_path / "a.pem"))
    second = await published_jwks(make_app(key_file=tmp_path / "b.pem"))

    assert first != second


def test_key_file_is_created_with_its_parents_and_mode_0600(tmp_path: Path) -> None:
    path = tmp_path / "var" / "mock_vneid" / "signing_key.pem"

    load_or_create(path)

    assert stat.S_IMODE(path.stat().st_mode) == 0o600
    assert path.read_bytes().startswith(b"-----BEGIN PRIVATE KEY-----")
    assert [p.name for p in path.parent.iterdir()] == ["signing_key.pem"]  # no temporary left behind


def test_kid_is_the_rfc7638_thumbprint(tmp_path: Path) -> None:
    key = load_or_create(tmp_path / "k.pem")
    jwk = key.public_jwk()

    canonical = json.dumps({"e": jwk["e"], "kty": "RSA", "n": jwk["n"]}, separators=(",", ":"))
    expected = base64.urlsafe_b64encode(hashlib.sha256(canonical.encode()).digest()).rstrip(b"=").decode()
    assert key.kid == expected


def test_rfc7638_example_thumbprint() -> None:
    # The worked example of RFC 7638 §3.1.
    example = {
        "kty": "RSA",
        "n": "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPebWKRX"
        "jBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY368QQMicAtaSqzs8"
        "KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM4lFd2NcRwr3XPksINHaQ-G_xB"
        "niIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw",
        "e": "AQAB",
    }
    public_key = RSAAlgorithm.from_jwk(example)
    assert isinstance(public_key, rsa.RSAPublicKey)

    assert jwk_thumbprint(public_key) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"
