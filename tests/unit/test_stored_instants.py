"""Instants as the store keeps them (naive UTC) and gives them back (aware UTC), by arithmetic on the epoch:
the same values as ``astimezone(UTC).replace(tzinfo=None)`` and ``replace(tzinfo=UTC)``, for any zone."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta, timezone

import pytest
from sqlalchemy.dialects import postgresql

from broker.clock import VIETNAM, aware_utc, naive_utc, seconds
from broker.store.types import UTCDateTime

INSTANTS = [
    datetime(2024, 6, 15, 0, 0, 0, 0, tzinfo=VIETNAM),  # the cutoff, midnight in Hà Nội
    datetime(2024, 6, 30, 23, 59, 59, 999_999, tzinfo=VIETNAM),
    datetime(1970, 1, 1, tzinfo=UTC),
    datetime(1900, 3, 1, 12, 30, tzinfo=timezone(timedelta(hours=-5, minutes=-30))),
    datetime(9999, 12, 30, 23, 59, 59, 999_999, tzinfo=UTC),
    datetime(1, 1, 2, 0, 0, 1, tzinfo=UTC),
]


@pytest.mark.parametrize("at", INSTANTS, ids=str)
def test_stored_and_read_back_as_the_standard_conversions_give(at: datetime) -> None:
    stored = naive_utc(at)
    assert stored == at.astimezone(UTC).replace(tzinfo=None)
    assert stored.tzinfo is None
    back = aware_utc(stored)
    assert back == at
    assert back.tzinfo is UTC
    assert (back.year, back.month, back.day, back.hour, back.microsecond) == (
        stored.year,
        stored.month,
        stored.day,
        stored.hour,
        stored.microsecond,
    )


def test_a_naive_instant_is_refused_on_the_way_in() -> None:
    with pytest.raises(TypeError):
        naive_utc(datetime(2024, 6, 15))
    process = UTCDateTime().bind_processor(postgresql.asyncpg.dialect())
    assert process is not None
    with pytest.raises(ValueError, match="naive datetime"):
        process(datetime(2024, 6, 15))
    assert process(INSTANTS[0]) == datetime(2024, 6, 14, 17, 0)


def test_a_lifetime_from_the_settings_is_the_timedelta_of_its_seconds_made_once() -> None:
    assert seconds(900) == timedelta(seconds=900)
    assert seconds(0.5) == timedelta(milliseconds=500)
    assert seconds(900) is seconds(900)
