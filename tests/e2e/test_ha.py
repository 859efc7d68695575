"""Two replicas on one Lease: exactly one acts, and a standby takes over from a dead leader.

Both ``zstack-operator run`` processes watch the same namespace with the same Lease, as two
pods of the chart's Deployment do. While 100 ModelServices are created, the leader is
SIGKILLed; the standby takes over, and the fleet converges with exactly one ZStack create per
resource. Then the killed replica comes back (as a standby), the fleet is updated while the
new leader is stopped cleanly (a rolling update's handover), and everything is deleted with
nothing left. No replica may cause a Warning: the other one never acts on the same objects.
"""

from __future__ import annotations

import json
import re
import sys
import time
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from tests.support.chaos import (
    Fleet,
    Ledger,
    assert_converged,
    delete_all_and_assert_clean,
)
from tests.support.kube import Kube
from tests.support.operator_fixtures import OperatorProcess, SimClient

pytestmark = pytest.mark.e2e

N = 100
LEASE = "ha"
#: The chart's default; its takeover bound is 15 + 2 x 2 = 19 s (docs/high-availability.md).
LEASE_DURATION = 15
#: Every ZStack answer takes this long while the leader is killed, so the kill lands mid-work.
SLOW_MS = 1000


@pytest.fixture
def fleet(kube: Kube, namespace: str, modelservice_crd: Any) -> Fleet:
    return Fleet(kube, namespace, N, prefix="ha")


@pytest.fixture
def ledger(zstack: SimClient) -> Ledger:
    return Ledger(zstack)


def leader_metric(op: OperatorProcess, identity: str) -> float | None:
    """``zstack_operator_leader{identity=...}`` as the replica serves it on /metrics."""
    text = httpx.get(f"{op.health_url()}/metrics", timeout=5).text
    found = re.search(rf'^zstack_operator_leader{{identity="{identity}"}} (\S+)$', text, re.M)
    return float(found.group(1)) if found else None


def readyz(op: OperatorProcess) -> tuple[int, str]:
    reply = httpx.get(f"{op.health_url()}/readyz", timeout=5)
    return reply.status_code, reply.text


def lease(kube: Kube, namespace: str) -> dict[str, Any]:
    result = kube.kubectl("get", "lease", LEASE, "-o", "json", namespace=namespace)
    spec: dict[str, Any] = json.loads(result.stdout)["spec"]
    return spec


def warnings(kube: Kube, namespace: str) -> list[str]:
    result = kube.kubectl(
        "get", "events", "--field-selector", "type=Warning", "-o", "json", namespace=namespace
    )
    return [
        f"{e['involvedObject']['name']}: {e['reason']}: {e['message']}"
        for e in json.loads(result.stdout)["items"]
    ]


def test_one_replica_acts_and_a_standby_takes_over_without_a_duplicate(
    kube: Kube,
    namespace: str,
    fleet: Fleet,
    ledger: Ledger,
    zstack: SimClient,
    credentials: Any,
    operator_factory: Callable[..., OperatorProcess],
) -> None:
    def replica(identity: str) -> OperatorProcess:
        return operator_factory(
            "--lease-name", LEASE, "--identity", identity,
            "--lease-duration", str(LEASE_DURATION),
        )  # fmt: skip

    a = replica("replica-a")
    kube.wait_until(lambda: leader_metric(a, "replica-a") == 1, message="replica-a leads")
    b = replica("replica-b")
    kube.wait_until(
        lambda: "standby (replica-b; leader: replica-a)" in readyz(b)[1],
        message="replica-b stands by, ready",
    )
    assert readyz(b)[0] == 200, "a standby is ready: a rolling update must not wait for it"
    assert readyz(a) == (200, "ok: leader (replica-a)")
    assert leader_metric(b, "replica-b") == 0
    assert lease(kube, namespace)["holderIdentity"] == "replica-a"

    # Creates under way, then the leader dies without a word.
    zstack.faults(latencyMs=SLOW_MS)
    fleet.apply()
    kube.wait_until(
        lambda: len(zstack.counters()["createRequests"]) >= N // 4,
        timeout=120,
        interval=0.05,
        message="a quarter of the creates sent",
    )
    a.kill()
    killed = time.monotonic()
    kube.wait_until(
        lambda: leader_metric(b, "replica-b") == 1,
        timeout=LEASE_DURATION * 4,
        interval=0.2,
        message="replica-b takes over",
    )
    sys.stdout.write(f"takeover after SIGKILL: {time.monotonic() - killed:.1f}s\n")
    held = lease(kube, namespace)
    assert (held["holderIdentity"], held["leaseTransitions"]) == ("replica-b", 1)
    assert len(zstack.counters()["createRequests"]) < N, "the kill came after every create"
    zstack.faults(latencyMs=0)
    assert_converged(fleet, ledger, failures_expected=False)

    # The killed pod's container restarts: it stands by behind the new leader.
    a.restart()
    kube.wait_until(
        lambda: "standby (replica-a; leader: replica-b)" in readyz(a)[1],
        message="the restarted replica-a stands by",
    )
    assert leader_metric(a, "replica-a") == 0

    # A rolling update's handover: the leader is stopped cleanly mid-update and releases the
    # Lease, so replica-a starts at its next look instead of waiting out the lease.
    zstack.faults(latencyMs=SLOW_MS)
    fleet.apply(description="updated while the leader hands over")
    kube.wait_until(
        lambda: ledger.totals().count("UpdateModelService") >= 1,
        timeout=60,
        interval=0.05,
        message="the first update sent",
    )
    b.stop()
    assert b.proc is not None
    assert b.proc.returncode == 0, b.logs()[-2000:]
    assert "released the Lease" in b.logs()
    kube.wait_until(
        lambda: leader_metric(a, "replica-a") == 1,
        timeout=LEASE_DURATION * 2,
        interval=0.2,
        message="replica-a takes over the released Lease",
    )
    zstack.faults(latencyMs=0)
    assert_converged(fleet, ledger, failures_expected=False, generation=2)
    assert lease(kube, namespace)["holderIdentity"] == "replica-a"

    delete_all_and_assert_clean(fleet, ledger)
    assert warnings(kube, namespace) == []
