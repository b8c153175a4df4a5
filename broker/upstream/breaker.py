"""A circuit breaker per upstream (SECURITY.md, gate 11): after repeated failures to reach it, the broker
stops trying for a while and answers at once with the "VNeID is unavailable" page, instead of making
every citizen wait for timeouts and piling load on a service that is down.

Three states. *Closed*: every call goes through. *Open*: no call goes through until the cooldown ends.
*Half-open* (the cooldown is over): exactly one caller gets the probe; everyone else is refused at once
while it is in flight; its outcome closes or reopens the circuit. A probe that never reports (the citizen
abandoned the login at the upstream) is given up after one more cooldown, so the next caller probes.
Time comes from the injected clock.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from broker.clock import Clock
from broker.errors import UpstreamError


class UpstreamUnavailable(UpstreamError):
    """The upstream could not be reached or failed on its side (network, timeout, 5xx, not JSON)."""


class CircuitBreaker:
    def __init__(self, clock: Clock, failure_threshold: int, cooldown: timedelta) -> None:
        self._clock = clock
        self._threshold = failure_threshold
        self._cooldown = cooldown
        self._failures = 0
        self._open_until: datetime | None = None
        self._probe_until: datetime | None = None  # set while the half-open probe is in flight

    @property
    def is_open(self) -> bool:
        """Open or half-open: the upstream is not known to work."""
        return self._open_until is not None

    @property
    def cooling(self) -> bool:
        return self._open_until is not None and self._clock() < self._open_until

    def _probe_in_flight(self) -> bool:
        return self._probe_until is not None and self._clock() < self._probe_until

    def check(self) -> None:
        """Before a call: refused while open; in the half-open state, the first caller becomes the probe."""
        if self._open_until is None:
            return
        if self.cooling or self._probe_in_flight():
            raise UpstreamUnavailable("upstream_unavailable", "circuit open")
        self._probe_until = self._clock() + self._cooldown

    def check_start(self) -> None:
        """Before sending a citizen upstream without calling it: refused while open or while a probe is
        in flight, but not made the probe (a login start that calls nobody proves nothing)."""
        if self._open_until is not None and (self.cooling or self._probe_in_flight()):
            raise UpstreamUnavailable("upstream_unavailable", "circuit open")

    def record_success(self) -> None:
        self._failures = 0
        self._open_until = None
        self._probe_until = None

    def record_failure(self) -> None:
        self._failures += 1
        half_open = self._open_until is not None and not self.cooling
        if half_open or self._failures >= self._threshold:
            self._open_until = self._clock() + self._cooldown
            self._probe_until = None
