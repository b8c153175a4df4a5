"""Time enters the broker only through a Clock, so tests fix it instead of sleeping or patching."""

from __future__ import annotations

import functools
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

Clock = Callable[[], datetime]

# Every date of the letters, and every date shown to people, is in Vietnam time (UTC+7).
VIETNAM = ZoneInfo("Asia/Ho_Chi_Minh")

_EPOCH = datetime(1970, 1, 1, tzinfo=UTC)
_NAIVE_EPOCH = datetime(1970, 1, 1)


def naive_utc(at: datetime) -> datetime:
    """An aware instant as the store keeps it: naive, in UTC (``at.astimezone(UTC).replace(tzinfo=None)``).

    By arithmetic on the epoch: ``replace``'s keyword argument alone cost 1.5-2 µs a call, its names
    decoded and hashed by CPython's argument parser every time (issue 7, nineteenth round: some forty
    instants a login, each way). A naive ``at`` raises TypeError."""
    return _NAIVE_EPOCH + (at - _EPOCH)


def aware_utc(stored: datetime) -> datetime:
    """A naive UTC instant as read from the store, made aware (``stored.replace(tzinfo=UTC)``, cheaper:
    ``naive_utc``)."""
    return _EPOCH + (stored - _NAIVE_EPOCH)


@functools.cache
def seconds(count: float) -> timedelta:
    """``timedelta(seconds=count)``, made once per count: a login adds the same few lifetimes from the
    settings to ``now`` several times, and the constructor's keyword parsing cost 2,200 instructions a
    call (``naive_utc``). Bounded: the counts are settings."""
    return timedelta(seconds=count)


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
