"""The one loop that runs drift checks when the schedule says they are due.

Owned here: ``DriftLoop`` (sleeps until the earliest due time, runs due checks with bounded
concurrency, and makes the objects waiting for a connection due the moment the connection
pool reports it changed) and ``KeyedLock`` (one pass per object at a time, whether a kopf
handler or this loop starts it). What a check does is the caller's: ``handlers`` gives a
callable that reads the object and reconciles it. Nothing here imports kopf.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable

from .schedule import DriftSchedule, Entry

log = logging.getLogger(__name__)

#: The longest sleep between two looks at the schedule, and the backoff of a failed check.
RECHECK = 15.0


class KeyedLock:
    """An asyncio lock per key, kept only while someone holds or waits for it."""

    def __init__(self) -> None:
        self._locks: dict[str, tuple[asyncio.Lock, int]] = {}

    def __len__(self) -> int:
        return len(self._locks)

    @contextlib.asynccontextmanager
    async def hold(self, key: str) -> AsyncIterator[None]:
        """Hold the lock of ``key``."""
        lock, users = self._locks.get(key) or (asyncio.Lock(), 0)
        self._locks[key] = (lock, users + 1)
        try:
            async with lock:
                yield
        finally:
            lock, users = self._locks[key]
            if users == 1:
                del self._locks[key]
            else:
                self._locks[key] = (lock, users - 1)


Check = Callable[[str, Entry], Awaitable[None]]


class DriftLoop:
    """Runs ``check(uid, entry)`` for every object as it comes due."""

    def __init__(
        self,
        schedule: DriftSchedule,
        check: Check,
        *,
        concurrency: int = 16,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.schedule = schedule
        self._check = check
        self._clock = clock
        self._slots = asyncio.Semaphore(concurrency)
        self._wakeup = asyncio.Event()
        self._tasks: set[asyncio.Task[None]] = set()

    def wake(self) -> None:
        """Look at the schedule now (an object was added or moved earlier)."""
        self._wakeup.set()

    def connection_changed(self, key: str) -> None:
        """A connection (its resource or its Secret) changed: re-check who waits for it now."""
        woken = self.schedule.connection_changed(key, self._clock())
        if woken:
            log.info("connection %s changed; re-checking %d resources now", key, woken)
            self.wake()

    async def step(self) -> float:
        """Start every due check; seconds until the next look is needed."""
        now = self._clock()
        for uid in self.schedule.pop_due(now):
            entry = self.schedule.get(uid)
            if entry is None:
                continue
            await self._slots.acquire()
            task = asyncio.create_task(self._run(uid, entry))
            self._tasks.add(task)
            task.add_done_callback(self._tasks.discard)
        upcoming = self.schedule.next_due()
        delay = RECHECK if upcoming is None else max(0.0, upcoming - self._clock())
        return min(delay, RECHECK)

    async def _run(self, uid: str, entry: Entry) -> None:
        try:
            await self._check(uid, entry)
        except Exception:  # a failing check must not end the loop; it names its object
            log.exception("drift check of %s/%s failed", entry.namespace, entry.name)
            self.schedule.later(uid, self._clock(), RECHECK)
        finally:
            self._slots.release()

    async def run(self) -> None:
        """Forever: wait until something is due (or ``wake``), then start it."""
        while True:
            delay = await self.step()
            self._wakeup.clear()
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(self._wakeup.wait(), timeout=delay)

    async def drain(self) -> None:
        """Wait for the checks already started (tests and shutdown)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
