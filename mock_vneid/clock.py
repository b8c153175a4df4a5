"""Time is injected so that tests fix it instead of sleeping."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime

Clock = Callable[[], datetime]


def system_clock() -> datetime:
    return datetime.now(UTC)


def epoch(moment: datetime) -> int:
    """Seconds since the epoch, as JWT NumericDate (RFC 7519 §2)."""
    return int(moment.timestamp())
