from datetime import UTC, datetime, timedelta

import pytest

from broker.clock import FixedClock
from broker.upstream.breaker import CircuitBreaker, UpstreamUnavailable


def test_opens_at_the_threshold_lets_one_probe_through_after_the_cooldown_and_closes_on_success() -> None:
    clock = FixedClock(datetime(2024, 6, 15, tzinfo=UTC))
    breaker = CircuitBreaker(clock, failure_threshold=3, cooldown=timedelta(seconds=30))
    for _ in range(2):
        breaker.record_failure()
        breaker.check()  # still closed below the threshold
    breaker.record_failure()
    with pytest.raises(UpstreamUnavailable):
        breaker.check()
    clock.advance(seconds=30)
    breaker.check()  # the probe
    breaker.record_failure()  # it failed: open again at once
    with pytest.raises(UpstreamUnavailable):
        breaker.check()
    clock.advance(seconds=30)
    breaker.record_success()
    breaker.check()
    breaker.record_failure()
    breaker.check()  # the count started over
