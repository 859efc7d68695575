"""Leader election: of several operator replicas, exactly one acts, through a Lease.

Each replica competes for one ``coordination.k8s.io/v1`` Lease in the operator's namespace. The
holder runs kopf and reconciles; the others stand by (no watches, no ZStack calls) and take over
when the holder stops renewing. The protocol is client-go's (docs/high-availability.md):

- A standby judges expiry by its own clock: it notes when it last saw the Lease *change* (its
  resourceVersion) and takes over once it has not changed for ``lease_duration``. Clocks of
  different nodes are never compared, so skew between them cannot hand the Lease over early.
- Every write is a PUT carrying the ``resourceVersion`` just read, so two standbys that see
  the same expired Lease race and exactly one wins (the other gets 409 Conflict).
- The leader renews every ``retry_period`` and gives up after ``renew_deadline`` without a
  successful renewal, which is shorter than ``lease_duration``: a leader cut off from the API
  server stops acting before anyone else may start.
- A leader that stops cleanly releases the Lease (no holder), so a rolling update hands over
  within one ``retry_period`` instead of a whole ``lease_duration``.

A holder that finds its own identity in the Lease (a restarted container of the same pod) takes
it back at once: its previous incarnation is dead, since the kubelet restarted it.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, Protocol

from .kubeapi import KubeError
from .metrics import LEADER

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ElectionConfig:
    """Which Lease, who this replica is, and how long a silent holder keeps it."""

    namespace: str
    name: str
    identity: str
    lease_duration: float = 15.0

    @property
    def renew_deadline(self) -> float:
        """How long the leader keeps acting without a successful renewal (2/3 of the lease)."""
        return self.lease_duration * 2 / 3

    @property
    def retry_period(self) -> float:
        """Seconds between tries: renewals by the leader, looks by a standby."""
        return self.lease_duration / 7.5

    @property
    def takeover_bound(self) -> float:
        """Longest time from a leader's death to a standby holding the Lease.

        The standby first sees the last renewal up to one period after it was made, waits a
        whole ``lease_duration`` from then, and looks once per period.
        """
        return self.lease_duration + 2 * self.retry_period


class LeaseAPI(Protocol):
    """The three Lease calls the election makes (``KubeAPI`` has them)."""

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None: ...

    async def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]: ...

    async def replace_lease(
        self, namespace: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any] | None: ...


def _micro_time(moment: datetime) -> str:
    """A Kubernetes MicroTime: RFC 3339 in UTC with microseconds."""
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


class LeaderElector:
    """One replica's side of the election; ``acquire``, then ``hold`` while acting."""

    def __init__(
        self,
        api: LeaseAPI,
        config: ElectionConfig,
        *,
        clock: Callable[[], float] = time.monotonic,
        wall: Callable[[], datetime] = lambda: datetime.now(UTC),
    ) -> None:
        self._api = api
        self.config = config
        self._clock = clock
        self._wall = wall
        #: The holder named by the Lease when last read ("" when free); None before any read.
        self.holder: str | None = None
        self.leading = False
        self._observed: tuple[Any, ...] | None = None
        self._observed_at = 0.0
        LEADER.labels(config.identity).set(0)

    @property
    def where(self) -> str:
        """The Lease as ``namespace/name``, for log lines and /readyz."""
        return f"{self.config.namespace}/{self.config.name}"

    def _spec(self, now: datetime, previous: dict[str, Any] | None) -> dict[str, Any]:
        spec = dict(previous or {})
        taken = spec.get("holderIdentity") != self.config.identity or not self.leading
        spec["holderIdentity"] = self.config.identity
        spec["leaseDurationSeconds"] = max(1, round(self.config.lease_duration))
        spec["renewTime"] = _micro_time(now)
        if taken:
            spec["acquireTime"] = _micro_time(now)
            if previous is not None and previous.get("holderIdentity") != self.config.identity:
                spec["leaseTransitions"] = int(previous.get("leaseTransitions") or 0) + 1
            spec.setdefault("leaseTransitions", 0)
        return spec

    def _observe(self, lease: dict[str, Any]) -> None:
        # Every write changes the resourceVersion, even a renewal within the same microsecond.
        spec: dict[str, Any] = lease.get("spec") or {}
        version = (lease.get("metadata") or {}).get("resourceVersion")
        record = (version, spec.get("holderIdentity"), spec.get("renewTime"))
        if record != self._observed:
            self._observed = record
            self._observed_at = self._clock()
        self.holder = str(spec.get("holderIdentity") or "")

    async def try_acquire_or_renew(self) -> bool:
        """One round: True when this replica holds the Lease afterwards.

        Raises KubeError when the API server cannot be asked (the caller decides whether that
        costs the leadership).
        """
        cfg = self.config
        lease = await self._api.get_lease(cfg.namespace, cfg.name)
        now = self._wall()
        if lease is None:
            body = {
                "apiVersion": "coordination.k8s.io/v1",
                "kind": "Lease",
                "metadata": {"name": cfg.name, "namespace": cfg.namespace},
                "spec": self._spec(now, None),
            }
            try:
                created = await self._api.create_lease(cfg.namespace, body)
            except KubeError as exc:
                if exc.status == 409:  # another replica created it first
                    return self._lost_race()
                raise
            self._observe(created)
            return self._won()
        spec: dict[str, Any] = lease.get("spec") or {}
        self._observe(lease)
        holder = self.holder
        duration = float(spec.get("leaseDurationSeconds") or cfg.lease_duration)
        if holder and holder != cfg.identity and self._clock() < self._observed_at + duration:
            return self._lost_race()
        body = {**lease, "spec": self._spec(now, spec)}
        try:
            replaced = await self._api.replace_lease(cfg.namespace, cfg.name, body)
        except KubeError as exc:
            if exc.status == 409:  # changed since the read: someone renewed or took it
                return self._lost_race()
            raise
        if replaced is None:  # deleted since the read; the next round creates it
            return self._lost_race()
        self._observe(replaced)
        return self._won()

    def _won(self) -> bool:
        if not self.leading:
            log.info("leading: holding the Lease %s as %s", self.where, self.config.identity)
            LEADER.labels(self.config.identity).set(1)
        self.leading = True
        return True

    def _lost_race(self) -> bool:
        if self.leading:
            log.error("the Lease %s is now held by %r", self.where, self.holder)
        self.leading = False
        LEADER.labels(self.config.identity).set(0)
        return False

    async def acquire(self) -> None:
        """Return once this replica holds the Lease; cancel to give up standing by."""
        cfg = self.config
        announced: str | None = None
        while True:
            try:
                if await self.try_acquire_or_renew():
                    return
                if self.holder != announced:
                    announced = self.holder
                    log.info(
                        "standing by: the Lease %s is held by %r; taking over once it goes "
                        "%gs without renewal",
                        self.where,
                        announced,
                        cfg.lease_duration,
                    )
            except KubeError as exc:
                log.warning("standing by: cannot read the Lease %s: %s", self.where, exc)
            # Jittered, so standbys that started together do not ask in lockstep.
            await asyncio.sleep(cfg.retry_period * random.uniform(1.0, 1.2))

    async def hold(self) -> str:
        """Renew until the leadership is lost; returns why. Cancel to stop renewing."""
        cfg = self.config
        renewed = self._clock()
        while True:
            await asyncio.sleep(cfg.retry_period)
            left = cfg.renew_deadline - (self._clock() - renewed)
            try:
                async with asyncio.timeout(max(left, 0.1)):
                    ok = await self.try_acquire_or_renew()
            except (KubeError, TimeoutError) as exc:
                log.warning("cannot renew the Lease %s: %s", self.where, exc or "timed out")
                ok = False
            if ok:
                renewed = self._clock()
                continue
            if self.holder and self.holder != cfg.identity:
                self._lost_race()
                return f"the Lease {self.where} is now held by {self.holder!r}"
            if self._clock() - renewed >= cfg.renew_deadline:
                self.leading = False
                LEADER.labels(cfg.identity).set(0)
                return f"no renewal of the Lease {self.where} for {cfg.renew_deadline:g}s"

    async def release(self) -> None:
        """Give the Lease up (no holder), so a standby takes over at its next look."""
        if not self.leading:
            return
        self.leading = False
        LEADER.labels(self.config.identity).set(0)
        cfg = self.config
        try:
            lease = await self._api.get_lease(cfg.namespace, cfg.name)
            spec = (lease or {}).get("spec") or {}
            if lease is None or spec.get("holderIdentity") != cfg.identity:
                return
            now = _micro_time(self._wall())
            released = {**spec, "leaseDurationSeconds": 1, "renewTime": now}
            released.pop("holderIdentity", None)
            await self._api.replace_lease(cfg.namespace, cfg.name, {**lease, "spec": released})
            log.info("released the Lease %s", self.where)
        except KubeError as exc:
            # A standby then waits out the lease duration instead: slower, never unsafe.
            log.warning("could not release the Lease %s: %s", self.where, exc)
