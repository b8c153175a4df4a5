"""Signing keys are never in clear in the database; `broker keys rewrap` moves them to a new key-encryption
key; `broker db upgrade` seals keys an older version left in clear (issue 12 item 5)."""

from __future__ import annotations

import subprocess
from pathlib import Path

import httpx
import pytest
from cryptography.fernet import Fernet
from sqlalchemy import text

from broker.app import build_registry, close_registry
from broker.clock import system_clock
from broker.login.keys import ensure_signing_keys, list_keys, new_signing_key
from broker.settings import Settings
from broker.store.key_encryption import KeyDecryptionError
from tests.conftest import Stack
from tests.support.browser import Browser, RelyingParty
from tests.support.op import id_claims, log_in_and_redeem
from tests.support.processes import BROKER, broker_environment


async def _stored(database_url: str) -> dict[str, str]:
    registry = build_registry(Settings(database_url=database_url))
    try:
        async with registry.db.read() as session:
            rows = await session.execute(text("SELECT kid, private_pem FROM signing_keys"))
            return {str(kid): str(pem) for kid, pem in rows}
    finally:
        await close_registry(registry)


async def test_the_database_holds_no_private_key_in_clear_and_logins_still_sign(
    stack: Stack, rp: RelyingParty, http: httpx.AsyncClient
) -> None:
    tokens = await log_in_and_redeem(stack, http, Browser(), rp)
    assert (await id_claims(http, stack, rp, tokens))["sub"]
    stored = await _stored(stack.settings.database_url)
    assert len(stored) == 2
    for pem in stored.values():
        assert pem.startswith("enc-v1.")
        assert "PRIVATE KEY" not in pem and "BEGIN" not in pem
    path = stack.settings.sqlite_path()
    if path is not None:  # the file a backup would copy, and its write-ahead log
        for part in (path, path.with_name(path.name + "-wal")):
            if part.exists():
                assert b"PRIVATE KEY" not in part.read_bytes()


def _run(settings: Settings, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [BROKER, *args], env=broker_environment(settings, **env), capture_output=True, text=True, timeout=120
    )


async def test_rewrap_moves_every_key_to_the_new_key_encryption_key(database_url: str) -> None:
    old, new = Fernet.generate_key().decode(), Fernet.generate_key().decode()
    under_old = Settings(database_url=database_url, key_encryption_key=old)
    registry = build_registry(under_old)
    try:
        await ensure_signing_keys(registry.db, registry.clock)
        before = {key.kid: key.private_pem for key in await list_keys(registry.db)}
    finally:
        await close_registry(registry)
    stored_before = await _stored(database_url)

    result = _run(under_old, "keys", "rewrap", BROKER_KEY_ENCRYPTION_KEY=f"{new},{old}")
    assert result.returncode == 0, result.stderr
    assert '"rewrapped": 2' in result.stdout

    stored_after = await _stored(database_url)
    for kid, sealed in stored_after.items():
        assert sealed != stored_before[kid] and sealed.startswith("enc-v1.")
    registry = build_registry(Settings(database_url=database_url, key_encryption_key=new))
    try:
        assert {key.kid: key.private_pem for key in await list_keys(registry.db)} == before
    finally:
        await close_registry(registry)
    registry = build_registry(under_old)  # the old key alone no longer opens them
    try:
        with pytest.raises(KeyDecryptionError):
            await list_keys(registry.db)
    finally:
        await close_registry(registry)


async def test_db_upgrade_seals_keys_an_older_version_stored_in_clear(
    database_url: str, tmp_path: Path
) -> None:
    settings = Settings(database_url=database_url)
    key = new_signing_key("RS256", system_clock())
    registry = build_registry(settings)
    try:
        async with registry.db.transaction() as session:  # what a version before encryption wrote
            await session.execute(
                text(
                    "INSERT INTO signing_keys (kid, alg, private_pem, created_at) VALUES (:kid, 'RS256', :pem, :at)"
                ),
                {"kid": key.kid, "pem": key.private_pem, "at": key.created_at.replace(tzinfo=None)},
            )
        assert (await list_keys(registry.db))[0].private_pem == key.private_pem  # still readable meanwhile
    finally:
        await close_registry(registry)

    result = _run(settings, "db", "upgrade")
    assert result.returncode == 0, result.stderr
    assert "1 signing keys sealed" in result.stdout

    stored = await _stored(database_url)
    assert stored[key.kid].startswith("enc-v1.") and "PRIVATE KEY" not in stored[key.kid]
    registry = build_registry(settings)
    try:
        assert (await list_keys(registry.db))[0].private_pem == key.private_pem
    finally:
        await close_registry(registry)
