"""How long the client waits: transient retries and job polling (DESIGN.md section 3).

Owned here: ``RetryPolicy`` (bounded, fully jittered exponential backoff for transient errors
inside one client call, honouring ``Retry-After``) and ``PollPolicy`` (the growing interval
between ``GET /api-jobs/{uuid}`` polls and the default polling deadline). Pure arithmetic, no
I/O; used by ``zstack.dispatch`` and ``zstack.jobs``. Long waits are deliberately not done
here: a ``Retry-After`` beyond ``max_retry_after`` is handed back to the caller (the operator
turns it into a kopf requeue) instead of being slept inside a handler.
"""

from __future__ import annotations

import random
from collections.abc import Iterator
from dataclasses import dataclass


@dataclass(frozen=True)
class RetryPolicy:
    """Retries of one request after a transient failure (network, 5xx, 429, SYS.1000/1001)."""

    #: Total tries of one request, the first included.
    attempts: int = 4
    #: Backoff ceiling before the first retry; doubles on each further retry.
    base: float = 0.1
    #: Largest backoff between two tries.
    cap: float = 5.0
    #: A server-requested wait longer than this is not slept; the error goes to the caller.
    max_retry_after: float = 30.0

    def __post_init__(self) -> None:
        if self.attempts < 1 or self.base < 0 or self.cap < 0 or self.max_retry_after < 0:
            raise ValueError("RetryPolicy needs attempts >= 1 and non-negative durations")

    def delay(
        self, failed_tries: int, retry_after: float | None = None, rng: random.Random | None = None
    ) -> float | None:
        """Seconds to wait after ``failed_tries`` failed tries, or None to stop retrying.

        Full jitter (uniform between 0 and the exponential ceiling) spreads the retries of
        many concurrent callers, so a recovering server is not hit by one synchronised wave.
        """
        if failed_tries >= self.attempts:
            return None
        if retry_after is not None and retry_after > self.max_retry_after:
            return None
        ceiling = min(self.cap, self.base * 2 ** (failed_tries - 1))
        jitter = (rng or random).uniform(0.0, ceiling)
        return max(jitter, retry_after or 0.0)


@dataclass(frozen=True)
class PollPolicy:
    """Polling of an async ZStack job: short first, then slower, never slower than ``maximum``."""

    #: First interval: most model-service jobs finish within a few hundred milliseconds.
    initial: float = 0.05
    #: Growth factor between two intervals.
    factor: float = 1.6
    #: Longest interval, so a finished job is noticed within this many seconds.
    maximum: float = 1.0
    #: Default polling deadline of a mutation when the caller passes ``wait=None``.
    timeout: float = 600.0

    def __post_init__(self) -> None:
        if self.initial <= 0 or self.factor < 1 or self.maximum < self.initial or self.timeout < 0:
            raise ValueError("PollPolicy needs 0 < initial <= maximum, factor >= 1, timeout >= 0")

    def intervals(self) -> Iterator[float]:
        """Endless sequence of poll intervals: initial, initial*factor, ..., maximum, maximum."""
        interval = self.initial
        while True:
            yield interval
            interval = min(self.maximum, interval * self.factor)
