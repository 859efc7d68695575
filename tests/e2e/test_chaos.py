"""Chaos at CI size: 100 ModelServices through crashes, restarts, faults and session storms.

Each scenario applies the whole fleet in one ``kubectl apply``, disrupts the operator, ZStack
(the simulator) or the API server while it works, and then demands the same end state
(``tests/support/chaos.py``): every resource Ready and Synced at its generation, exactly one
ZStack service per resource with the resource's uuid, no duplicate create, and after deleting
everything no object, no stuck finalizer and no ZStack service left. Random moments come from a
seeded generator; the seed is printed, and ``CHAOS_SEED=<n>`` replays a run's choices.
"""

from __future__ import annotations

import os
import random
import sys
from collections import Counter
from collections.abc import Callable
from typing import Any

import pytest

from tests.support.chaos import (
    Fleet,
    Ledger,
    Operator,
    assert_clean,
    assert_converged,
    delete_all_and_assert_clean,
    repeating,
)
from tests.support.kube import Kube
from tests.support.operator_fixtures import OperatorProcess, SimClient

pytestmark = pytest.mark.e2e

#: Resources per scenario: enough for real concurrency (16 ZStack requests in flight, kopf's
#: per-object workers), small enough for CI.
N = 100
#: Latency (ms) of every ZStack answer while the operator is killed. Unhindered, 100 creates
#: take about 3 s, less than one operator restart; at 1 s a request (16 in flight, two requests
#: a create or delete) they take over 12 s, so every kill lands mid-work.
SLOW_MS = 1000
#: Duration (ms) of the create jobs that deletes overtake: longer than an operator restart.
SLOW_JOB_MS = 5000


@pytest.fixture
def rng() -> random.Random:
    seed = int(os.environ.get("CHAOS_SEED") or random.randrange(2**32))
    sys.stdout.write(f"chaos seed: {seed} (CHAOS_SEED={seed} replays it)\n")
    return random.Random(seed)


@pytest.fixture
def fleet(kube: Kube, namespace: str, modelservice_crd: Any) -> Fleet:
    return Fleet(kube, namespace, N)


@pytest.fixture
def ledger(zstack: SimClient) -> Ledger:
    return Ledger(zstack)


def resources(zstack: SimClient) -> int:
    """How many model services ZStack holds now (the simulator's own count: no API call)."""
    return int(zstack.counters()["resources"])


def test_sigkill_during_creates_leaves_one_service_each(
    fleet: Fleet,
    ledger: Ledger,
    zstack: SimClient,
    credentials: Any,
    operator_factory: Callable[..., OperatorProcess],
    rng: random.Random,
) -> None:
    op = Operator.start(operator_factory)
    zstack.faults(latencyMs=SLOW_MS)
    fleet.apply()
    created = op.kill_repeatedly(rng, lambda: resources(zstack), max_delay=5.0)
    assert all(c < N for c in created), f"a kill came after every create ({created})"
    zstack.faults(latencyMs=0)
    assert_converged(fleet, ledger, failures_expected=False)
    delete_all_and_assert_clean(fleet, ledger)


def test_sigkill_during_deletes_leaves_nothing_behind(
    fleet: Fleet,
    ledger: Ledger,
    zstack: SimClient,
    credentials: Any,
    operator_factory: Callable[..., OperatorProcess],
    rng: random.Random,
) -> None:
    op = Operator.start(operator_factory)
    fleet.apply()
    assert_converged(fleet, ledger, failures_expected=False)
    # A delete killed mid-way is followed after the restart, not sent again (its job uuid is
    # derived), so 1-s answers alone no longer outlast three kills: slow jobs make sure of it.
    zstack.faults(latencyMs=SLOW_MS, jobDurationMs=SLOW_JOB_MS)
    fleet.delete_all()
    left = op.kill_repeatedly(rng, lambda: resources(zstack), max_delay=3.0)
    # 3 kills, at least, come while services are left.
    assert sum(n > 0 for n in left) >= 3, f"the kills came after the deletes ({left})"
    zstack.faults(latencyMs=0, jobDurationMs=50)
    fleet.wait_gone()
    assert_clean(fleet, ledger)
    assert ledger.totals().count("DeleteModelService") >= N


def test_simulator_restart_mid_run_keeps_state_and_creates_once(
    fleet: Fleet,
    ledger: Ledger,
    credentials: Any,
    operator_factory: Callable[..., OperatorProcess],
) -> None:
    operator_factory()
    fleet.apply()
    fleet.kube.wait_until(
        lambda: 0 < fleet.ready_count() < N or None,
        timeout=120,
        interval=0.2,
        message="some, not all, ModelServices Ready before the simulator restarts",
    )
    ledger.restart_simulator()
    assert_converged(fleet, ledger, failures_expected=False)
    # Deletes write no status before they go out, so unhindered they all finish between two
    # looks; slow answers spread them out so the restart lands mid-way.
    ledger.zstack.faults(latencyMs=SLOW_MS)
    fleet.delete_all()
    fleet.kube.wait_until(
        lambda: 0 < len(fleet.items()) < N or None,
        timeout=120,
        interval=0.2,
        message="some, not all, ModelServices deleted before the simulator restarts",
    )
    ledger.restart_simulator()
    fleet.wait_gone()
    assert_clean(fleet, ledger)


def test_ten_percent_faults_during_creates_and_deletes(
    fleet: Fleet,
    ledger: Ledger,
    zstack: SimClient,
    credentials: Any,
    operator_factory: Callable[..., OperatorProcess],
) -> None:
    operator_factory()
    faults = {"errorRate": 0.1, "resetRate": 0.1, "throttleRate": 0.1, "retryAfter": 1}
    zstack.faults(**faults)
    fleet.apply()
    fleet.wait_settled(f"all {N} ModelServices Ready under 10% faults")
    zstack.faults(errorRate=0, resetRate=0, throttleRate=0)
    assert_converged(fleet, ledger, failures_expected=True)
    totals = ledger.totals()
    for outcome in ("503", "reset", "429"):  # each fault really was injected
        assert totals.count("AddModelService", outcome) + totals.count("QueryApiJob", outcome)

    zstack.faults(**faults)
    fleet.delete_all()
    fleet.wait_gone()
    zstack.faults(errorRate=0, resetRate=0, throttleRate=0)
    assert_clean(fleet, ledger)
    assert ledger.totals().count("DeleteModelService", "reset") > 0


def test_session_expiry_storm_during_creates_and_updates(
    fleet: Fleet,
    ledger: Ledger,
    zstack: SimClient,
    credentials: Any,
    operator_factory: Callable[..., OperatorProcess],
) -> None:
    operator_factory()
    with repeating(zstack.expire_sessions, every=0.5) as storm:
        fleet.apply()
        fleet.wait_settled(f"all {N} ModelServices Ready through a session-expiry storm")
        fleet.apply(requestCpu=8)
        fleet.wait_settled(f"all {N} updates applied through a session-expiry storm")
    assert storm[0] >= 4
    uuids = assert_converged(fleet, ledger, failures_expected=True, generation=2)
    services = {s["uuid"]: s for s in zstack.services()}
    for uuid in uuids.values():
        # Version 2 exactly: one update applied per resource, however many were re-sent.
        assert (services[uuid]["requestCpu"], services[uuid]["version"]) == (8, "2")
    assert ledger.totals().count("LogInByAccount") > 1
    delete_all_and_assert_clean(fleet, ledger)


def test_api_server_restart_during_creates(
    kube: Kube,
    fleet: Fleet,
    ledger: Ledger,
    credentials: Any,
    operator_factory: Callable[..., OperatorProcess],
) -> None:
    if kube.dev_cluster_dir is None:
        pytest.skip("restarts the dev cluster's kube-apiserver; KUBECONFIG names another cluster")
    operator_factory()
    fleet.apply()
    kube.wait_until(
        lambda: 0 < fleet.ready_count() < N or None,
        timeout=120,
        interval=0.2,
        message="some, not all, ModelServices Ready before the API server restarts",
    )
    kube.restart_apiserver()
    assert_converged(fleet, ledger, failures_expected=False)
    delete_all_and_assert_clean(fleet, ledger)


def test_deletes_overtaking_creates_resent_after_a_session_expiry(
    fleet: Fleet,
    ledger: Ledger,
    zstack: SimClient,
    credentials: Any,
    operator_factory: Callable[..., OperatorProcess],
) -> None:
    """Deleted while their creates still run, some resent after a session expiry, by an
    operator that is then killed.

    The restarted operator knows each create by the job uuid in status. Where the session had
    expired, the client resent the create as a successor job; that one still runs, and deleting
    before it ends would let the create land after the delete (a leak).
    """
    op = operator_factory()
    zstack.faults(jobDurationMs=SLOW_JOB_MS)
    fleet.apply()
    for share in (4, 2):  # sessions expire when a quarter, then half of the creates are out
        fleet.kube.wait_until(
            lambda: len(zstack.counters()["createRequests"]) >= N // share,  # noqa: B023
            timeout=120,
            interval=0.05,
            message=f"1/{share} of the creates sent",
        )
        zstack.expire_sessions()

    def one_live_create_each() -> Counter[str] | None:
        # Every resource has one create running (or done): its first or its resent try.
        jobs = ledger.jobs("AddModelService")
        return jobs if jobs["running"] + jobs["succeeded"] == N else None

    jobs = fleet.kube.wait_until(
        one_live_create_each,
        timeout=120,
        interval=0.1,
        message="a live create for every ModelService",
    )
    op.kill()
    assert jobs["failed"] > 0  # some creates were resent after their session expired
    fleet.delete_all()
    zstack.faults(jobDurationMs=50)
    op.restart()
    fleet.wait_gone()
    fleet.kube.wait_until(
        lambda: ledger.jobs("AddModelService")["running"] == 0,
        timeout=60,
        interval=0.2,
        message="every create job finished",
    )
    assert_clean(fleet, ledger)
