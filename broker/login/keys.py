"""The broker's signing keys: created on first start, loaded into a key ring, reloaded periodically so
that every replica publishes a key another replica just added."""

from __future__ import annotations

import asyncio
from datetime import datetime, timedelta

from broker.clock import Clock
from broker.oidc.keys import SUPPORTED_ALGS, KeyPair, KeyRing, generate_private_pem, public_jwk, thumbprint
from broker.store import keys as key_store
from broker.store.database import Database
from broker.store.tables import SigningKey


async def ensure_signing_keys(db: Database, clock: Clock) -> None:
    """Creates an RS256 and an ES256 key when the database has none (first start)."""
    async with db.transaction() as session:
        present = {key.alg for key in await key_store.list_unretired(session)}
        for alg in SUPPORTED_ALGS:
            if alg not in present:
                await key_store.add(session, new_signing_key(alg, clock()))


def new_signing_key(alg: str, now: datetime) -> SigningKey:
    pem = generate_private_pem(alg)
    return SigningKey(kid=thumbprint(public_jwk(pem)), alg=alg, private_pem=pem, created_at=now)


class KeyRingSource:
    """Hands out the current key ring, re-read from the database at most every ``ttl``."""

    def __init__(self, db: Database, clock: Clock, ttl: timedelta = timedelta(seconds=60)) -> None:
        self._db = db
        self._clock = clock
        self._ttl = ttl
        self._ring: KeyRing | None = None
        self._loaded_at: datetime | None = None
        self._lock = asyncio.Lock()

    async def __call__(self) -> KeyRing:
        now = self._clock()
        if self._ring is not None and self._loaded_at is not None and now - self._loaded_at < self._ttl:
            return self._ring
        async with self._lock:
            async with self._db.read() as session:
                rows = await key_store.list_unretired(session)
            self._ring = KeyRing([KeyPair(row.kid, row.alg, row.private_pem) for row in rows])
            self._loaded_at = now
            return self._ring
