"""Password hashing off the event loop: every verification and rehash runs in a worker thread, at most
``BROKER_PASSWORD_HASH_WORKERS`` at once.

Argon2id and bcrypt take 50-300 ms of CPU each. Run on the event loop, ten concurrent password posts
stalled every other request of the replica for seconds (``/healthz`` went from 16 ms to 9.2 s). In a thread
they release the GIL (argon2-cffi and bcrypt both do), and the bounded limiter keeps a burst from taking
every core: excess attempts queue here, holding no database connection, instead of piling onto the CPU.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import TypeVar

from anyio import CapacityLimiter, to_thread

from broker.domain import passwords
from broker.metrics import HashQueue

T = TypeVar("T")


class PasswordPool:
    def __init__(self, workers: int = 2, queue: int = 64, observed: HashQueue | None = None) -> None:
        self.workers = workers
        self.queue = queue
        self._observed = observed
        self._limiter: CapacityLimiter | None = None

    def saturated(self) -> bool:
        """More attempts are waiting for a worker than the queue allows: shed load instead of queueing."""
        return self._bound().statistics().tasks_waiting >= self.queue

    def _bound(self) -> CapacityLimiter:
        # Made on first use, inside the serving event loop (the registry is built before it runs).
        if self._limiter is None:
            self._limiter = CapacityLimiter(self.workers)
        return self._limiter

    async def _run(self, work: Callable[..., T], *args: object) -> T:
        limiter = self._bound()
        if self._observed is None:
            return await to_thread.run_sync(work, *args, limiter=limiter)
        # The slot is taken here rather than by run_sync, so the wait and the work show apart
        # (broker_password_hash_waiting / _running).
        started = time.perf_counter()
        with self._observed.waiting():
            await limiter.acquire()
        try:
            with self._observed.running():
                return await to_thread.run_sync(work, *args)
        finally:
            limiter.release()
            self._observed.seconds.observe(time.perf_counter() - started)

    async def verify(self, password: str, encoded: str | None, scheme: str | None) -> bool:
        return await self._run(passwords.verify, password, encoded, scheme)

    async def verify_dummy(self, password: str) -> None:
        await self._run(passwords.verify_dummy, password)

    async def hash(self, password: str) -> str:
        return await self._run(passwords.hash_password, password)
