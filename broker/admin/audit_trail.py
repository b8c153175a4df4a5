"""Operators' checks of the audit trail: does its hash chain still hold?"""

from __future__ import annotations

from broker.registry import Registry
from broker.store import audit


async def verify(registry: Registry) -> audit.Verification:
    async with registry.db.read() as session:
        return await audit.verify(session)
