"""Process-wide state of a running operator, and the kopf-free helpers the handlers share.

Owned here: ``Runtime`` (settings, clients, the drift schedule and loop, the per-object locks,
the Event poster; kept in kopf's memo), turning an object into a ``reconcile.Resource``,
retry backoff, counting the Events that report drift, and keeping an object in the drift
schedule. ``handlers`` wires these to kopf; nothing here imports kopf.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .connections import ConnectionPool
from .events import EventPoster
from .health import Health
from .kubeapi import KubeAPI
from .metrics import DRIFT_REPAIRS, OUT_OF_BAND_DELETIONS, ConditionCensus
from .reconcile import Deps, Outcome, Resource
from .reconcile.drift import DriftLoop, KeyedLock
from .reconcile.schedule import DriftSchedule, interval_of
from .resources import EventReason
from .settings import Settings

log = logging.getLogger(__name__)

#: Backoff of transient failures: 1 s doubling to 5 min, full jitter above half.
_BACKOFF_BASE, _BACKOFF_CAP = 1.0, 300.0


@dataclass
class Runtime:
    """Process-wide state shared by the handlers (kept in kopf's memo)."""

    settings: Settings
    health: Health = field(default_factory=Health)
    census: ConditionCensus = field(default_factory=ConditionCensus)
    schedule: DriftSchedule = field(default_factory=DriftSchedule)
    locks: KeyedLock = field(default_factory=KeyedLock)
    kube: KubeAPI | None = None
    pool: ConnectionPool | None = None
    deps: Deps | None = None
    drift: DriftLoop | None = None
    events: EventPoster | None = None
    index: Any = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    runner: Any = None

    def universe(self, connection: str) -> list[str]:
        """Every ZStack uuid the operator knows for a connection (from the kopf index)."""
        if self.index is None or connection not in self.index:
            return []
        return list(self.index[connection])


def backoff(retry: int) -> float:
    """Seconds before retry number ``retry`` (0-based), jittered to spread a thundering herd."""
    delay: float = min(_BACKOFF_CAP, _BACKOFF_BASE * 2.0 ** min(retry, 16))
    return delay * random.uniform(0.5, 1.0)


def resource_of(body: Mapping[str, Any]) -> Resource:
    """The plain data reconcile needs, from an object as the API server returns it."""
    meta = body.get("metadata", {})
    return Resource(
        namespace=meta.get("namespace", ""),
        name=meta.get("name", ""),
        uid=meta.get("uid", ""),
        generation=int(meta.get("generation", 0)),
        spec=dict(body.get("spec", {})),
        status=dict(body.get("status", {})),
        annotations=dict(meta.get("annotations", {})),
        created_at=meta.get("creationTimestamp"),
    )


def count_event(reason: str) -> None:
    """Count the Events that report ZStack changed behind the operator's back."""
    if reason == EventReason.DRIFT_REPAIRED:
        DRIFT_REPAIRS.labels("manage").inc()
    elif reason == EventReason.DRIFT_DETECTED:
        DRIFT_REPAIRS.labels("observe").inc()
    elif reason == EventReason.RECREATED:  # a repair too: of a service that vanished
        DRIFT_REPAIRS.labels("manage").inc()
        OUT_OF_BAND_DELETIONS.inc()


def track(rt: Runtime, res: Resource, outcome: Outcome) -> None:
    """Keep the object in the drift schedule (its interval may have changed)."""
    interval, refused = interval_of(res.annotations, rt.settings.drift_interval)
    if refused:
        log.warning("%s: %s", res.ref, refused)
    waiting = bool(outcome.status.error and str(outcome.status.error.code or "").startswith("ID."))
    if outcome.status.uuid is None and not waiting:
        return  # nothing in ZStack to compare with yet
    rt.schedule.track(res.uid, res.namespace, res.name, interval=interval,
                      now=time.monotonic(), waiting_for_credentials=waiting)  # fmt: skip
    if rt.drift is not None:
        rt.drift.wake()
