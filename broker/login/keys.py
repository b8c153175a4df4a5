"""The broker's signing keys: created on first start, rotated by the operator, loaded into a key ring and
reloaded periodically so that every replica publishes a key another replica just added."""

from __future__ import annotations

import asyncio
import contextlib
from dataclasses import dataclass
from datetime import datetime, timedelta

from broker.clock import Clock
from broker.oidc.keys import (
    SUPPORTED_ALGS,
    KeyPair,
    KeyRing,
    LoadedKey,
    generate_private_pem,
    public_jwk,
    thumbprint,
)
from broker.settings import Settings
from broker.store import keys as key_store
from broker.store import notifications
from broker.store.database import Database
from broker.store.tables import SigningKey


async def ensure_signing_keys(db: Database, clock: Clock) -> None:
    """Creates an RS256 and an ES256 key when the database has none (first start)."""
    async with db.transaction() as session:
        present = {key.alg for key in await key_store.list_unretired(session)}
        for alg in SUPPORTED_ALGS:
            if alg not in present:
                await key_store.add(session, new_signing_key(alg, clock()))
        if present != set(SUPPORTED_ALGS):
            await notifications.notify(session, notifications.SIGNING_KEYS)


def new_signing_key(alg: str, now: datetime) -> SigningKey:
    pem = generate_private_pem(alg)
    return SigningKey(kid=thumbprint(public_jwk(pem)), alg=alg, private_pem=pem, created_at=now)


@dataclass(frozen=True)
class KeyTiming:
    """How long a new key is published before it signs, and a retired one stays published after."""

    publish_ahead: timedelta
    grace: timedelta
    reload: timedelta

    @classmethod
    def from_settings(cls, settings: Settings) -> KeyTiming:
        return cls(
            publish_ahead=timedelta(seconds=settings.key_publish_ahead_seconds),
            grace=timedelta(seconds=settings.longest_token_lifetime_seconds),
            reload=timedelta(seconds=settings.key_reload_seconds),
        )


async def rotate(db: Database, clock: Clock, timing: KeyTiming) -> list[SigningKey]:
    """Adds a new key per algorithm; the keys it replaces stop signing when it starts (publish-ahead)."""
    now = clock()
    added = []
    async with db.transaction() as session:
        for alg in SUPPORTED_ALGS:
            key = new_signing_key(alg, now)
            await key_store.add(session, key)
            await key_store.retire_unretired(session, alg, now + timing.publish_ahead, keep=key.kid)
            added.append(key)
        # Every replica listening re-reads its key ring as soon as this commits (PostgreSQL).
        await notifications.notify(session, notifications.SIGNING_KEYS)
    return added


async def list_keys(db: Database) -> list[SigningKey]:
    async with db.read() as session:
        return await key_store.list_all(session)


def status_of(keys: list[SigningKey], now: datetime, timing: KeyTiming) -> dict[str, str]:
    """Per kid: signing, published (will sign), retiring (signs until its retirement), retired (still
    published for verification), removed (no longer published)."""
    published = [key for key in keys if key.retired_at is None or key.retired_at + timing.grace > now]
    pairs = [KeyPair(key.kid, key.alg, key.private_pem, key.created_at, key.retired_at) for key in published]
    ring = KeyRing(pairs, now, timing.publish_ahead)
    signing = set()
    for alg in ring.algorithms():
        with contextlib.suppress(LookupError):
            signing.add(ring.signing_key(alg).kid)
    statuses = {}
    for key in keys:
        if key.kid in signing:
            statuses[key.kid] = "signing"
        elif key.retired_at is not None and key.retired_at + timing.grace <= now:
            statuses[key.kid] = "removed"
        elif key.retired_at is not None and key.retired_at <= now:
            statuses[key.kid] = "retired (published for verification)"
        else:
            statuses[key.kid] = "published (not yet signing)"
    return statuses


class KeyRingSource:
    """Hands out the current key ring without touching the database on the request path.

    The ring is re-read when it goes stale: ``timing.reload`` after it was read, at the next instant a key
    starts or stops signing, or at once when :meth:`invalidate` is called (on PostgreSQL a rotation by any
    replica or by ``broker keys rotate`` is announced by NOTIFY; see :func:`follow_rotations`). Keys
    are parsed once: a reload parses only kids it has not seen.
    """

    def __init__(self, db: Database, clock: Clock, timing: KeyTiming | None = None) -> None:
        self._db = db
        self._clock = clock
        self.timing = timing or KeyTiming(timedelta(0), timedelta(hours=1), timedelta(seconds=60))
        self._ring: KeyRing | None = None
        self._stale_at: datetime | None = None
        self._loaded: dict[str, LoadedKey] = {}
        self._generation = 0
        self._lock = asyncio.Lock()

    def invalidate(self) -> None:
        self._generation += 1
        self._stale_at = None

    async def __call__(self) -> KeyRing:
        ring, stale_at = self._ring, self._stale_at
        if ring is not None and stale_at is not None and self._clock() < stale_at:
            return ring
        async with self._lock:
            if self._ring is not None and self._stale_at is not None and self._clock() < self._stale_at:
                return self._ring
            return await self._reload()

    async def _reload(self) -> KeyRing:
        generation = self._generation
        now = self._clock()
        async with self._db.read() as session:
            rows = await key_store.list_published(session, now, self.timing.grace)
        pairs = [KeyPair(row.kid, row.alg, row.private_pem, row.created_at, row.retired_at) for row in rows]
        kids = {pair.kid for pair in pairs}
        self._loaded = {kid: key for kid, key in self._loaded.items() if kid in kids}
        ring = KeyRing(pairs, now, self.timing.publish_ahead, self._loaded)
        self._ring = ring
        # A rotation announced while this read ran leaves the ring stale: it is read again next time.
        if generation == self._generation:
            stale_at = now + self.timing.reload
            change = ring.next_change()
            self._stale_at = min(stale_at, change) if change is not None else stale_at
        return ring


async def follow_rotations(db: Database, source: KeyRingSource) -> None:
    """Runs until cancelled: on PostgreSQL, re-reads the key ring the moment any process adds or retires a
    key. On SQLite (one host) there is no such signal: the ring is re-read every ``key_reload_seconds``."""
    if notifications.supported(db.url):
        await notifications.listen(db.url, notifications.SIGNING_KEYS, source.invalidate)
