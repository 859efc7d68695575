"""Process-wide state of a running operator, and the kopf-free helpers the handlers share.

Owned here: ``Runtime`` (settings, clients, the drift schedule and loop, the per-object locks,
the Event poster; kept in kopf's memo), turning an object into a ``reconcile.Resource``,
retry backoff, counting the Events that report drift, and keeping an object in the drift
schedule. ``handlers`` wires these to kopf; nothing here imports kopf.
"""

from __future__ import annotations

import asyncio
import base64
import logging
import random
import time
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from .connection_status import ConnectionController
from .connections import OPERATOR_DEFAULT, ConnectionPool
from .connections.keys import from_shown
from .events import EventPoster
from .health import Health
from .kubeapi import KubeAPI
from .metrics import DRIFT_REPAIRS, OUT_OF_BAND_DELETIONS, ConditionCensus
from .reconcile import Deps, Outcome, Resource
from .reconcile.drift import DriftLoop, KeyedLock
from .reconcile.schedule import DriftSchedule, interval_of
from .resources import GROUP, VERSION, ConditionType, EventReason, SyncedReason
from .settings import Settings

log = logging.getLogger(__name__)

#: Seconds between looks at an object waiting for a connection fix, besides the change notices.
WAITING_RECHECK = 60.0
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
    connections: ConnectionController | None = None
    deps: Deps | None = None
    #: What the Model and ModelServiceDeployment reconcilers talk to (``chain.seam.ChainDeps``).
    chain: Any = None
    drift: DriftLoop | None = None
    events: EventPoster | None = None
    index: Any = None
    tasks: list[asyncio.Task[None]] = field(default_factory=list)
    #: Set to stop this term's kopf (SIGTERM, or the Lease lost); lifecycle.run owns it.
    stop: asyncio.Event | None = None

    def universe(self, connection: str) -> list[str]:
        """Every ZStack uuid the operator knows for a connection key (from the kopf index)."""
        if self.index is None or connection not in self.index:
            return []
        return [uuid for _, uuid in self.index[connection] if uuid]

    def connection_changed(self, key: str) -> None:
        """A connection or its Secret changed: wake who waits for it, refresh its status."""
        if self.drift is not None:
            self.drift.connection_changed(key)
        if self.connections is not None:
            self.connections.changed(key)

    def users(self, connection: str) -> list[str]:
        """``namespace/name`` of every ModelService that uses a connection key."""
        if self.index is None or connection not in self.index:
            return []
        return sorted(ref for ref, _ in self.index[connection])


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


def _waiting_for(rt: Runtime, res: Resource, outcome: Outcome) -> str | None:
    """The key of the connection whose fix the object waits for, if it does."""
    status = outcome.status
    synced = next((c for c in status.conditions if c.type == ConditionType.SYNCED), None)
    refused_login = bool(status.error and str(status.error.code or "").startswith("ID."))
    # NotOwned too: a connection that starts allowing adoption settles it.
    waits = (SyncedReason.CONNECTION_UNAVAILABLE, SyncedReason.NOT_OWNED)
    if rt.pool is None or not (refused_login or (synced and synced.reason in waits)):
        return None
    pinned = (status.connection or OPERATOR_DEFAULT) if status.uuid else status.connection
    return rt.pool.resolve(res.namespace, res.spec.get("connectionRef"), pinned)


def _refused(outcome: Outcome) -> bool:
    """NotOwned: only a connection change (allowAdoption) can settle it, not a sooner look."""
    synced = next((c for c in outcome.status.conditions if c.type == ConditionType.SYNCED), None)
    return synced is not None and synced.reason == SyncedReason.NOT_OWNED


def track(rt: Runtime, res: Resource, outcome: Outcome) -> None:
    """Keep the object in the drift schedule (its interval may have changed)."""
    interval, refused = interval_of(res.annotations, rt.settings.drift_interval)
    if refused:
        log.warning("%s: %s", res.ref, refused)
    recorded = outcome.status.connection
    if recorded and recorded != res.status.get("connection") and rt.connections is not None:
        # A new user: the connection's usedBy moves now, not at its next probe.
        rt.connections.changed(from_shown(res.namespace, recorded))
    waiting = _waiting_for(rt, res, outcome)
    if outcome.status.uuid is None and waiting is None:
        return  # nothing in ZStack to compare with yet
    if waiting is not None and not _refused(outcome):
        interval = min(interval, WAITING_RECHECK)  # in case a change notice is ever missed
    rt.schedule.track(res.uid, res.namespace, res.name, interval=interval,
                      now=time.monotonic(), waiting_for=waiting)  # fmt: skip
    if rt.drift is not None:
        rt.drift.wake()


class KubeObjects:
    """``chain.refs.Objects`` over the Kubernetes API: the operator's objects and Secrets."""

    def __init__(self, kube: KubeAPI) -> None:
        self._kube = kube

    async def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        """One object of the operator's group (None: it does not exist)."""
        return await self._kube.get_object(GROUP, VERSION, plural, namespace, name)

    async def list(self, plural: str, namespace: str) -> list[dict[str, Any]]:
        """Every object of ``plural`` in ``namespace``."""
        return await self._kube.list_objects(GROUP, VERSION, plural, namespace)

    async def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        """One decoded key of a Secret; None when the Secret or the key is missing."""
        secret = await self._kube.get_secret(namespace, name)
        data = (secret or {}).get("data") or {}
        if key not in data:
            return None
        return base64.b64decode(data[key]).decode("utf-8", errors="replace")
