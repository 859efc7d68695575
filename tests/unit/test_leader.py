"""The Lease protocol of leader.py, round by round, on a store with the API server's semantics.

The store keeps one Lease with a resourceVersion and answers a stale PUT with 409, as the API
server does; clocks are the tests' own, so expiry is decided by what each replica observed,
never by wall time. tests/e2e/test_ha.py runs the same protocol against the real API server.
"""

from __future__ import annotations

import asyncio
import copy
from datetime import UTC, datetime
from typing import Any

import pytest
from zstack_operator.kubeapi import KubeError
from zstack_operator.leader import ElectionConfig, LeaderElector
from zstack_operator.metrics import REGISTRY


class Store:
    """One namespace's Leases: create-once, compare-and-swap on resourceVersion."""

    def __init__(self) -> None:
        self.leases: dict[str, dict[str, Any]] = {}
        self.version = 0
        self.down = False

    def _check(self) -> None:
        if self.down:
            raise KubeError(0, "Kubernetes API unreachable: ConnectError")

    async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
        self._check()
        found = self.leases.get(name)
        return copy.deepcopy(found) if found else None

    async def create_lease(self, namespace: str, body: dict[str, Any]) -> dict[str, Any]:
        self._check()
        name = body["metadata"]["name"]
        if name in self.leases:
            raise KubeError(409, "already exists")
        return self._store(name, body)

    async def replace_lease(
        self, namespace: str, name: str, body: dict[str, Any]
    ) -> dict[str, Any] | None:
        self._check()
        if name not in self.leases:
            return None
        if (
            body["metadata"].get("resourceVersion")
            != self.leases[name]["metadata"]["resourceVersion"]
        ):
            raise KubeError(409, "the object has been modified")
        return self._store(name, body)

    def _store(self, name: str, body: dict[str, Any]) -> dict[str, Any]:
        self.version += 1
        stored = copy.deepcopy(body)
        stored["metadata"]["resourceVersion"] = str(self.version)
        self.leases[name] = stored
        return copy.deepcopy(stored)

    def spec(self) -> dict[str, Any]:
        return dict(self.leases["zstack-operator"]["spec"])


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


def replica(store: Store, identity: str, clock: Clock, duration: float = 15.0) -> LeaderElector:
    config = ElectionConfig("ops", "zstack-operator", identity, duration)
    return LeaderElector(store, config, clock=clock, wall=lambda: datetime(2026, 12, 2, tzinfo=UTC))


def leader_gauge(identity: str) -> float | None:
    return REGISTRY.get_sample_value("zstack_operator_leader", {"identity": identity})


async def test_the_first_replica_leads_and_the_second_stands_by() -> None:
    store, clock = Store(), Clock()
    a, b = replica(store, "pod-a", clock), replica(store, "pod-b", clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert b.holder == "pod-a"
    spec = store.spec()
    assert spec["holderIdentity"] == "pod-a"
    assert spec["leaseDurationSeconds"] == 15
    assert spec["leaseTransitions"] == 0
    assert spec["renewTime"] == "2026-12-02T00:00:00.000000Z"
    assert (leader_gauge("pod-a"), leader_gauge("pod-b")) == (1, 0)


async def test_a_standby_waits_a_whole_lease_duration_of_its_own_clock() -> None:
    store = Store()
    clock_a, clock_b = Clock(), Clock()
    a, b = replica(store, "pod-a", clock_a), replica(store, "pod-b", clock_b)
    assert await a.try_acquire_or_renew()
    # b's clock is far ahead of a's: it must not matter, only what b saw change does.
    clock_b.now += 10_000
    assert not await b.try_acquire_or_renew()
    clock_b.now += 14.9
    assert not await b.try_acquire_or_renew(), "a silent holder keeps the lease 15 s"
    # A renewal b sees restarts its count.
    assert await a.try_acquire_or_renew()
    clock_b.now += 0.2
    assert not await b.try_acquire_or_renew()
    clock_b.now += 14.9
    assert not await b.try_acquire_or_renew()
    clock_b.now += 0.2
    assert await b.try_acquire_or_renew(), "15 s without a change: taken over"
    spec = store.spec()
    assert spec["holderIdentity"] == "pod-b"
    assert spec["leaseTransitions"] == 1
    # The old leader's next round finds out and steps down.
    assert not await a.try_acquire_or_renew()
    assert not a.leading
    assert leader_gauge("pod-a") == 0


async def test_a_released_lease_is_taken_at_the_next_look() -> None:
    store, clock = Store(), Clock()
    a, b = replica(store, "pod-a", clock), replica(store, "pod-b", clock)
    assert await a.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    await a.release()
    assert "holderIdentity" not in store.spec()
    assert await b.try_acquire_or_renew()
    assert store.spec()["holderIdentity"] == "pod-b"


async def test_two_standbys_race_for_an_expired_lease_and_exactly_one_wins() -> None:
    store, clock = Store(), Clock()
    dead = replica(store, "pod-dead", clock)
    b, c = replica(store, "pod-b", clock), replica(store, "pod-c", clock)
    assert await dead.try_acquire_or_renew()
    assert not await b.try_acquire_or_renew()
    assert not await c.try_acquire_or_renew()
    clock.now += 16
    # Both read the expired lease before either writes: the API server orders the writes.
    results = await asyncio.gather(b.try_acquire_or_renew(), c.try_acquire_or_renew())
    assert sorted(results) == [False, True]
    winner = "pod-b" if results[0] else "pod-c"
    assert store.spec()["holderIdentity"] == winner


async def test_a_restarted_container_takes_its_own_lease_back_at_once() -> None:
    store, clock = Store(), Clock()
    assert await replica(store, "pod-a", clock).try_acquire_or_renew()
    again = replica(store, "pod-a", clock)  # same pod name, new process
    assert await again.try_acquire_or_renew()
    assert store.spec()["leaseTransitions"] == 0


async def test_a_leader_cut_off_from_the_api_server_gives_up_within_the_renew_deadline() -> None:
    store = Store()
    a = LeaderElector(store, ElectionConfig("ops", "zstack-operator", "pod-a", 0.3))
    assert await a.try_acquire_or_renew()
    store.down = True
    why = await asyncio.wait_for(a.hold(), timeout=10)
    assert why == "no renewal of the Lease ops/zstack-operator for 0.2s"
    assert not a.leading
    assert leader_gauge("pod-a") == 0


async def test_a_leader_that_sees_another_holder_stops_at_once() -> None:
    store, clock = Store(), Clock()
    a = LeaderElector(store, ElectionConfig("ops", "zstack-operator", "pod-a", 0.3), clock=clock)
    assert await a.try_acquire_or_renew()
    store.leases["zstack-operator"]["spec"]["holderIdentity"] = "pod-z"
    store.leases["zstack-operator"]["spec"]["renewTime"] = "2026-12-02T00:00:01.000000Z"
    why = await asyncio.wait_for(a.hold(), timeout=10)
    assert why == "the Lease ops/zstack-operator is now held by 'pod-z'"


def test_the_takeover_bound_is_the_lease_duration_and_two_looks() -> None:
    config = ElectionConfig("ops", "l", "me", 15)
    assert (config.renew_deadline, config.retry_period, config.takeover_bound) == (10, 2, 19)


@pytest.mark.parametrize("status", [403, 500])
async def test_acquire_keeps_standing_by_through_api_errors(status: int) -> None:
    class Refusing(Store):
        calls = 0

        async def get_lease(self, namespace: str, name: str) -> dict[str, Any] | None:
            self.calls += 1
            if self.calls < 3:
                raise KubeError(status, f"HTTP {status}")
            return await super().get_lease(namespace, name)

    store = Refusing()
    a = LeaderElector(store, ElectionConfig("ops", "zstack-operator", "pod-a", 0.3))
    await asyncio.wait_for(a.acquire(), timeout=10)
    assert a.leading
    assert store.calls == 3
