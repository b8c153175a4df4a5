"""The broker's signing keys. The private halves are sealed on the way in and opened on the way out
(broker.store.key_encryption): rows hold ciphertext only; callers get detached copies in clear."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import or_, update
from sqlalchemy.ext.asyncio import AsyncSession
from sqlmodel import col, select

from broker.store.key_encryption import KeyDecryptionError, KeyEncryption, is_sealed
from broker.store.tables import SigningKey

ENCRYPTION = "key_encryption"  # Session.info key, set by broker.store.database.Database


def _encryption(session: AsyncSession) -> KeyEncryption:
    encryption = session.info.get(ENCRYPTION)
    if encryption is None:
        raise KeyDecryptionError("no key-encryption key configured for this database handle")
    return encryption  # type: ignore[no-any-return]


def _opened(session: AsyncSession, rows: list[SigningKey]) -> list[SigningKey]:
    """Detached copies in clear, so nothing decrypted can be flushed back by the unit of work."""
    if not rows:
        return []
    encryption = _encryption(session)
    return [
        SigningKey(
            kid=row.kid,
            alg=row.alg,
            private_pem=encryption.open(row.kid, row.private_pem),
            created_at=row.created_at,
            retired_at=row.retired_at,
        )
        for row in rows
    ]


async def list_unretired(session: AsyncSession) -> list[SigningKey]:
    statement = (
        select(SigningKey).where(col(SigningKey.retired_at).is_(None)).order_by(col(SigningKey.created_at))
    )
    return _opened(session, list((await session.execute(statement)).scalars()))


async def list_published(session: AsyncSession, now: datetime, grace: timedelta) -> list[SigningKey]:
    """Keys still in the JWKS: not retired, or retired so recently that tokens they signed may be alive."""
    statement = (
        select(SigningKey)
        .where(or_(col(SigningKey.retired_at).is_(None), col(SigningKey.retired_at) > now - grace))
        .order_by(col(SigningKey.created_at))
    )
    return _opened(session, list((await session.execute(statement)).scalars()))


async def list_all(session: AsyncSession) -> list[SigningKey]:
    statement = select(SigningKey).order_by(col(SigningKey.alg), col(SigningKey.created_at))
    return _opened(session, list((await session.execute(statement)).scalars()))


async def add(session: AsyncSession, key: SigningKey) -> None:
    """Stores ``key`` sealed; the caller's object keeps its clear PEM and stays out of the session."""
    sealed = SigningKey(
        kid=key.kid,
        alg=key.alg,
        private_pem=_encryption(session).seal(key.kid, key.private_pem),
        created_at=key.created_at,
        retired_at=key.retired_at,
    )
    session.add(sealed)
    await session.flush()


async def rewrap_all(session: AsyncSession) -> dict[str, int]:
    """Re-wraps every key's data key under the newest key-encryption key, and seals clear rows."""
    encryption = _encryption(session)
    rows = list((await session.execute(select(SigningKey).with_for_update())).scalars())
    sealed_clear = 0
    for row in rows:
        sealed_clear += 0 if is_sealed(row.private_pem) else 1
        row.private_pem = encryption.rewrap(row.kid, row.private_pem)
    await session.flush()
    return {"rewrapped": len(rows) - sealed_clear, "sealed_clear": sealed_clear}


async def seal_clear(session: AsyncSession) -> int:
    """Seals keys stored in clear by a version before encryption at rest; returns how many."""
    encryption = _encryption(session)
    rows = list((await session.execute(select(SigningKey).with_for_update())).scalars())
    clear = [row for row in rows if not is_sealed(row.private_pem)]
    for row in clear:
        row.private_pem = encryption.seal(row.kid, row.private_pem)
    await session.flush()
    return len(clear)


async def retire_unretired(session: AsyncSession, alg: str, at: datetime, keep: str) -> int:
    """Schedules every live key of ``alg`` but ``keep`` to stop signing at ``at``."""
    statement = (
        update(SigningKey)
        .where(col(SigningKey.alg) == alg, col(SigningKey.retired_at).is_(None), col(SigningKey.kid) != keep)
        .values(retired_at=at)
        .execution_options(synchronize_session=False)
    )
    return int((await session.execute(statement)).rowcount)  # type: ignore[attr-defined]
