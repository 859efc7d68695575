"""What every bench step shares: the options, the clients, and the shape of a run's result.

Built by ``bench.cli``; read by ``bench.ideal``, ``bench.runs`` and ``bench.report``.
"""

from __future__ import annotations

import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from ..sim.admin import SimAdmin
from . import apimetrics
from .kube import BenchKube
from .procs import cpu_delta
from .track import Counters, Timeline

#: The operator's cap on concurrent ZStack requests; the ideal program uses the same.
MAX_IN_FLIGHT = 16
#: Concurrent POSTs the bench uses to create the N objects (server-side creates, not kubectl).
CREATE_CONCURRENCY = 16


@dataclass(frozen=True)
class Options:
    """The command-line options of ``zstack-operator bench``."""

    count: int = 1000
    latency_ms: float = 20.0
    job_duration_ms: float = 200.0
    drift_interval: float = 60.0
    out: Path = Path("bench-results")
    skip_steady: bool = False
    timeout: float = 900.0
    idle_seconds: float = 5.0
    profile: bool = False


@dataclass
class Context:
    """The options plus live clients of the bench cluster and the simulator."""

    opts: Options
    kube: BenchKube
    admin: SimAdmin
    sim_url: str
    run_id: str
    kubeconfig: Path
    started: float = field(default_factory=time.monotonic)
    #: Which operator code the runs measured (``report.source_fingerprint`` at the start).
    source: dict[str, str] = field(default_factory=dict)
    #: Processes whose CPU time every run reports (API server, etcd, simulator, the bench).
    pids: dict[str, int] = field(default_factory=dict)
    #: The 1, 5 and 15 minute load averages when the runs began (other work skews times).
    load_at_start: tuple[float, float, float] = (0.0, 0.0, 0.0)

    def namespace(self, role: str) -> str:
        """The namespace of one role in this run (``ideal``, ``barekopf``, ``naive``, ...)."""
        return f"bench-{role}-{self.run_id}"

    def say(self, message: str) -> None:
        """Progress on stderr, stamped with seconds since the bench started."""
        stamp(message, self.started)


def stamp(message: str, started: float) -> None:
    """One progress line on stderr: ``[bench   12.3s] message``."""
    sys.stderr.write(f"[bench {time.monotonic() - started:7.1f}s] {message}\n")
    sys.stderr.flush()


@dataclass
class RunResult:
    """One measured run (ideal, bare kopf, naive, or the operator creating N resources)."""

    name: str
    timeline: Timeline
    #: Seconds the bench took to create the N objects inside the timed window (0: untimed).
    apply_seconds: float = 0.0
    #: Seconds from the start until the last ZStack request or K8s write (the run went idle).
    idle_after: float | None = None
    zstack_requests: dict[str, dict[str, int]] = field(default_factory=dict)
    peak_in_flight: int | None = None
    #: Writes on modelservices, modelservices/status and events, the bench's own creates removed.
    k8s_writes: apimetrics.WriteCounts = field(default_factory=dict)
    failed_writes: int = 0
    peak_rss_kib: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def seconds(self) -> float | None:
        """Time to all Ready as the poller saw it."""
        return self.timeline.seconds

    def count_between(self, before: Counters, after: Counters, own_creates: int = 0) -> None:
        """Fill the request and write figures from two snapshots."""
        self.zstack_requests = after.zstack_requests
        self.peak_in_flight = after.peak_in_flight
        writes = apimetrics.diff_counts(after.writes, before.writes)
        self.k8s_writes = apimetrics.subtract(writes, "modelservices", "POST", own_creates)
        self.failed_writes = after.failed_writes - before.failed_writes
        self.extra["apiserver_write_ms"] = apimetrics.mean_latency_ms(after.latency, before.latency)
        self.extra["cpu_seconds"] = cpu_delta(after.cpu, before.cpu)


@dataclass
class Phase:
    """The operator's restart or steady state: what it cost over a stretch of time."""

    name: str
    #: Restart: seconds from process start to the last request or write; steady: the window.
    seconds: float | None
    zstack_requests: dict[str, dict[str, int]]
    peak_in_flight: int
    k8s_writes: apimetrics.WriteCounts
    peak_rss_kib: int | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @classmethod
    def between(cls, name: str, seconds: float | None, before: Counters, after: Counters) -> Phase:
        """The phase's figures from two snapshots (simulator counters reset at ``before``)."""
        return cls(
            name=name,
            seconds=seconds,
            zstack_requests=after.zstack_requests,
            peak_in_flight=after.peak_in_flight,
            k8s_writes=apimetrics.diff_counts(after.writes, before.writes),
            extra={"cpu_seconds": cpu_delta(after.cpu, before.cpu)},
        )

    @property
    def requests(self) -> int:
        """Every ZStack request of the phase."""
        return sum(apimetrics.zstack_totals(self.zstack_requests).values())
