"""Password hashing off the event loop: every verification and rehash runs in a dedicated pool of
``BROKER_PASSWORD_HASH_WORKERS`` threads, at a lower CPU priority than the event loop.

Argon2id and bcrypt take 50-300 ms of CPU each. Run on the event loop, ten concurrent password posts
stalled every other request of the replica for seconds (``/healthz`` went from 16 ms to 9.2 s). In threads
they release the GIL (argon2-cffi and bcrypt both do). The pool is bounded, so a burst queues here (holding
no database connection) instead of piling onto the CPU, and beyond ``BROKER_PASSWORD_HASH_QUEUE`` waiting
attempts the login answers 503 at once. Its threads are niced (Linux gives each thread its own nice value,
and the hashing libraries' own threads inherit it), so when the CPU is short the scheduler serves the
event loop first: a slow login, never a slow ``/healthz`` or token endpoint.

A pool of our own rather than anyio's default thread limiter: that one also runs FastAPI's synchronous
dependencies, which must not inherit a lowered priority.
"""

from __future__ import annotations

import asyncio
import os
import time
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from typing import TypeVar

from broker.domain import passwords
from broker.metrics import HashQueue

T = TypeVar("T")
# Niceness added to the hashing threads: the event loop runs at the process's own priority.
HASHING_NICENESS = 10


def _lower_priority() -> None:
    try:
        os.nice(HASHING_NICENESS)
    except OSError:  # not permitted here: hashing still runs, at the normal priority
        pass


class PasswordPool:
    def __init__(self, workers: int = 2, queue: int = 64, observed: HashQueue | None = None) -> None:
        self.workers = workers
        self.queue = queue
        self._observed = observed
        self._executor: ThreadPoolExecutor | None = None
        self._in_flight = 0

    def _report(self) -> None:
        # The executor runs at most ``workers`` at once, first come first served: the rest wait.
        if self._observed is not None:
            self._observed.running_gauge.set(min(self._in_flight, self.workers))
            self._observed.waiting_gauge.set(max(0, self._in_flight - self.workers))

    def saturated(self) -> bool:
        """More attempts are waiting for a worker than the queue allows: shed load instead of queueing."""
        return self._in_flight - self.workers >= self.queue

    async def _run(self, function: Callable[..., T], *args: object) -> T:
        if self._executor is None:
            self._executor = ThreadPoolExecutor(
                self.workers, thread_name_prefix="password-hashing", initializer=_lower_priority
            )
        self._in_flight += 1
        self._report()
        started = time.perf_counter()
        try:
            return await asyncio.get_running_loop().run_in_executor(self._executor, function, *args)
        finally:
            self._in_flight -= 1
            self._report()
            if self._observed is not None:
                self._observed.seconds.observe(time.perf_counter() - started)

    async def verify(self, password: str, encoded: str | None, scheme: str | None) -> bool:
        return await self._run(passwords.verify, password, encoded, scheme)

    async def verify_dummy(self, password: str) -> None:
        await self._run(passwords.verify_dummy, password)

    async def hash(self, password: str) -> str:
        return await self._run(passwords.hash_password, password)

    def close(self) -> None:
        if self._executor is not None:
            self._executor.shutdown(wait=False, cancel_futures=True)
            self._executor = None
