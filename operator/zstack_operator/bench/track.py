"""Watching a run from outside: Ready over time, and "idle" (no ZStack requests, no K8s writes).

Used by ``bench.ideal`` and ``bench.runs``. Ready is polled with one Table list every
``interval`` seconds (0.5 s), the same way for all three runs, so their times share one
resolution; each count is dated when its list was sent. Idle is judged from the simulator's
request counters and kube-apiserver's write counters on the watched resources: unchanged for
``quiet`` seconds means idle.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field

from ..sim.admin import SimAdmin
from . import apimetrics
from .kube import BenchKube
from .procs import Child, cpu_seconds

Progress = Callable[[str], None]


class RunTimeoutError(RuntimeError):
    """Not every resource became Ready in time."""


@dataclass
class Timeline:
    """Ready counts seen by the poller: (seconds since the run's start, Ready)."""

    points: list[tuple[float, int]] = field(default_factory=list)
    #: When the poller first saw every resource Ready (None if it never did).
    seconds: float | None = None


async def track_ready(
    kube: BenchKube,
    namespace: str,
    count: int,
    started: float,
    *,
    label: str,
    say: Progress,
    patience: float,
    interval: float = 0.5,
    child: Child | None = None,
) -> Timeline:
    """Poll until ``count`` ModelServices are Ready; RunTimeoutError after ``patience`` s."""
    timeline = Timeline()
    next_report = 5.0
    tick = started
    while True:
        # Dated when asked: a list shows the state when the server began answering, and a slow
        # answer from a busy API server must not be charged to the run being measured.
        now = time.monotonic() - started
        ready, _ = await kube.ready_count(namespace)
        timeline.points.append((round(now, 3), ready))
        if ready >= count:
            timeline.seconds = now
            say(f"{label}: all {count} Ready after {now:.1f} s")
            return timeline
        if now >= next_report:
            say(f"{label}: {ready}/{count} Ready after {now:.0f} s")
            next_report += 5.0
        if now > patience:
            raise RunTimeoutError(f"{label}: only {ready}/{count} Ready after {patience:g} s")
        if child is not None:
            child.check()
        tick += interval
        await asyncio.sleep(max(0.0, tick - time.monotonic()))


@dataclass(frozen=True)
class Counters:
    """What the simulator and the API server counted so far."""

    zstack_requests: dict[str, dict[str, int]]
    peak_in_flight: int
    writes: apimetrics.WriteCounts
    failed_writes: int
    #: Seconds and count of writes per ``VERB resource`` (for mean API server latency).
    latency: dict[str, tuple[float, int]]
    #: CPU seconds used so far by each process the bench watches.
    cpu: dict[str, float]

    @property
    def activity(self) -> tuple[int, int]:
        """(ZStack requests, K8s writes on the watched resources): unchanged means idle."""
        zstack = sum(sum(o.values()) for o in self.zstack_requests.values())
        return zstack, apimetrics.total(self.writes)


async def read_counters(
    kube: BenchKube, admin: SimAdmin, pids: Mapping[str, int] | None = None
) -> Counters:
    """One snapshot of the counters (and of the CPU time of ``pids``)."""
    sim, text = await asyncio.gather(admin.counters(), kube.metrics_text())
    return Counters(
        zstack_requests=sim.requests,
        peak_in_flight=sim.peak_in_flight,
        writes=apimetrics.write_counts(text),
        failed_writes=apimetrics.failed_writes(text),
        latency=apimetrics.write_latency(text),
        cpu=cpu_seconds(pids or {}),
    )


async def wait_idle(
    kube: BenchKube,
    admin: SimAdmin,
    started: float,
    *,
    quiet: float,
    patience: float,
    baseline: Counters | None = None,
    child: Child | None = None,
    pids: Mapping[str, int] | None = None,
) -> tuple[float, Counters]:
    """Wait until nothing changes for ``quiet`` s: (last change, s since ``started``; counters).

    With a ``baseline`` taken at ``started``, changes made before this call count too. The wait
    lasts at least ``quiet`` seconds from the call either way. A change is dated at the probe
    that saw it, so times are accurate to one probe interval (about a second: reading /metrics
    is not free for the API server).
    """
    called = time.monotonic()
    last = baseline or await read_counters(kube, admin, pids)
    changed_at = started if baseline is not None else called
    deadline = called + patience
    while True:
        await asyncio.sleep(1.0)
        if child is not None:
            child.check()
        current = await read_counters(kube, admin, pids)
        now = time.monotonic()
        if current.activity != last.activity:
            changed_at = now
        last = current
        if now - max(changed_at, called) >= quiet or now > deadline:
            return max(0.0, changed_at - started), last
