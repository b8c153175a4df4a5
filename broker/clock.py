"""Time enters the broker only through a Clock, so tests fix it instead of sleeping or patching."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]

# Every date of the letters, and every date shown to people, is in Vietnam time (UTC+7).
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")


def system_clock() -> datetime:
    return datetime.now(UTC)


class FixedClock:
    """A clock for tests: stands still until moved."""

    def __init__(self, now: datetime) -> None:
        if now.tzinfo is None:
            raise ValueError("a naive datetime is a bug: give the clock a timezone")
        self.now = now

    def __call__(self) -> datetime:
        return self.now

    def advance(self, **delta: float) -> None:
        self.now = self.now + timedelta(**delta)
