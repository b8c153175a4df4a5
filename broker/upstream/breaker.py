"""A circuit breaker for VNeID (SECURITY.md, gate 11): after repeated failures to reach it, the broker
stops trying for a while and answers at once with the "VNeID is unavailable" page, instead of making
every citizen wait for timeouts and piling load on a service that is down. One probe is let through
when the pause ends; its outcome closes or reopens the circuit. Time comes from the injected clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from broker.clock import Clock
from broker.errors import UpstreamError


class UpstreamUnavailable(UpstreamError):
    """VNeID could not be reached or failed on its side (network, timeout, 5xx, not JSON)."""


class CircuitBreaker:
    def __init__(self, clock: Clock, failure_threshold: int, cooldown: timedelta) -> None:
        self._clock = clock
        self._threshold = failure_threshold
        self._cooldown = cooldown
        self._failures = 0
        self._open_until: datetime | None = None

    @property
    def is_open(self) -> bool:
        return self._open_until is not None and self._clock() < self._open_until

    def check(self) -> None:
        if self.is_open:
            raise UpstreamUnavailable("upstream_unavailable", "circuit open")

    def record_success(self) -> None:
        self._failures = 0
        self._open_until = None

    def record_failure(self) -> None:
        self._failures += 1
        if self._failures >= self._threshold:
            self._open_until = self._clock() + self._cooldown
