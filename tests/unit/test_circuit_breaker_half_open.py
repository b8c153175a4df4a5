"""Issue 8 item 7: the breaker's half-open state lets one probe through, not every waiting request."""

from datetime import UTC, datetime, timedelta

import pytest

from broker.clock import FixedClock
from broker.upstream.breaker import CircuitBreaker, UpstreamUnavailable


def _opened() -> tuple[FixedClock, CircuitBreaker]:
    clock = FixedClock(datetime(2024, 6, 15, tzinfo=UTC))
    breaker = CircuitBreaker(clock, failure_threshold=1, cooldown=timedelta(seconds=30))
    breaker.record_failure()
    return clock, breaker


def test_after_the_cooldown_one_caller_probes_and_the_others_are_refused_until_it_reports() -> None:
    clock, breaker = _opened()
    clock.advance(seconds=30)
    breaker.check()  # the probe
    for _ in range(3):
        with pytest.raises(UpstreamUnavailable):
            breaker.check()
    breaker.record_success()
    breaker.check()
    breaker.check()
    assert not breaker.is_open


def test_a_probe_that_never_reports_is_given_up_after_one_more_cooldown() -> None:
    clock, breaker = _opened()
    clock.advance(seconds=30)
    breaker.check()  # a probe whose citizen walked away
    clock.advance(seconds=29)
    with pytest.raises(UpstreamUnavailable):
        breaker.check()
    clock.advance(seconds=1)
    breaker.check()  # the next caller probes


def test_a_login_start_passes_half_open_but_is_not_the_probe() -> None:
    clock, breaker = _opened()
    with pytest.raises(UpstreamUnavailable):
        breaker.check_start()  # open: refused at once
    clock.advance(seconds=30)
    breaker.check_start()  # half-open, no probe yet: the citizen may go upstream
    breaker.check()  # the code exchange is the probe
    with pytest.raises(UpstreamUnavailable):
        breaker.check_start()  # while it is in flight, new starts wait
    breaker.record_failure()  # the probe failed: open again for a whole cooldown
    clock.advance(seconds=29)
    with pytest.raises(UpstreamUnavailable):
        breaker.check_start()
