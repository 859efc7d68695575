"""The operator's /healthz, /readyz and /metrics, read over HTTP from the running process.

A ZStack outage must show in the metrics and never in liveness (Kubernetes would restart a
healthy operator in a loop); a watch that kopf gave up on must fail liveness (nothing would be
reconciled again without a restart). The operator logs the address it bound, so the tests ask
for port 0 and read the real port from the log.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.e2e.test_operator import apply, ready, sample, wait_cond
from tests.support.kube import Kube, wait_until
from tests.support.operator_fixtures import SimClient

pytestmark = pytest.mark.e2e

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    reply = httpx.get(f"{url}/metrics", timeout=10)
    assert reply.status_code == 200
    assert reply.headers["content-type"].startswith("text/plain;")
    return {
        (s.name, frozenset(s.labels.items())): s.value
        for family in text_string_to_metric_families(reply.text)
        for s in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float | None:
    return samples.get((name, frozenset(labels.items())))


#: The ``kind`` label of the ModelService series (the other kinds have series of their own).
MS = "ModelService"

#: /readyz of the fixture's first operator, which leads its own Lease (the body names the role).
READY = (200, "ok: leader (operator-0)")


def probe(url: str, path: str) -> tuple[int, str]:
    reply = httpx.get(f"{url}{path}", timeout=10)
    return reply.status_code, reply.text


def test_a_zstack_outage_shows_in_metrics_and_never_in_liveness(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    url = operator_factory().health_url()
    assert wait_until(lambda: probe(url, "/readyz") == READY, message="ready")
    assert probe(url, "/healthz") == (200, "ok")
    name = apply(kube, namespace, sample())
    ready(kube, namespace, name)

    zstack.faults(outage=True)
    apply(kube, namespace, sample(requestCpu=6))
    probes: list[tuple[int, str]] = []

    def errors_counted() -> Samples | None:
        probes.extend([probe(url, "/healthz"), probe(url, "/readyz")])
        samples = scrape(url)
        failed = value(
            samples, "zstack_operator_zstack_requests_total",
            api="QueryModelService", outcome="transport_error",
        )  # fmt: skip
        synced = value(
            samples, "zstack_operator_resources",
            kind=MS, condition="Synced", status="False", reason="ReconcileError",
        )  # fmt: skip
        return samples if failed and synced == 1 else None

    samples = wait_until(errors_counted, timeout=90, message="the outage shows in the metrics")
    wait_cond(kube, namespace, name, "Synced", "False", "ReconcileError")
    probes.extend([probe(url, "/healthz"), probe(url, "/readyz")])
    assert set(probes) == {(200, "ok"), READY}
    retries = value(
        samples, "zstack_operator_reconciles_total", kind=MS, trigger="update", result="retry"
    )
    assert retries is not None
    assert retries >= 1
    # The service itself did not go anywhere: Ready stays True through a ZStack outage.
    assert value(
        samples, "zstack_operator_resources",
        kind=MS, condition="Ready", status="True", reason="Available",
    ) == 1  # fmt: skip

    zstack.faults(outage=False)
    wait_until(
        lambda: (o := ready(kube, namespace, name))["status"]["observedGeneration"] == 2 and o,
        timeout=90,
        message="the update lands after the outage",
    )
    samples = scrape(url)
    synced = {"kind": MS, "condition": "Synced", "status": "True", "reason": "ReconcileSuccess"}
    assert value(samples, "zstack_operator_resources", **synced) == 1
    error = {"kind": MS, "condition": "Synced", "status": "False", "reason": "ReconcileError"}
    assert value(samples, "zstack_operator_resources", **error) == 0


def test_metrics_describe_one_resource_and_a_drift_repair(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    url = operator_factory(drift_interval=2).health_url()
    name = apply(kube, namespace, sample())
    uuid = ready(kube, namespace, name)["status"]["uuid"]
    samples = scrape(url)

    reconciles = "zstack_operator_reconciles_total"
    assert value(samples, reconciles, kind=MS, trigger="create", result="ok") == 1
    requests = "zstack_operator_zstack_requests_total"
    assert value(samples, requests, api="LogInByAccount", outcome="200") == 1
    assert value(samples, requests, api="AddModelService", outcome="202") == 1
    latency = "zstack_operator_zstack_request_duration_seconds"
    assert value(samples, f"{latency}_count", api="AddModelService") == 1
    assert value(samples, f"{latency}_bucket", api="AddModelService", le="+Inf") == 1
    took = value(samples, f"{latency}_sum", api="AddModelService")
    assert took is not None
    assert 0 < took < 30
    # Drift checks run every few seconds here, so wait for a quiet moment: the gauge must
    # come back to zero, not leak.
    wait_until(
        lambda: value(scrape(url), "zstack_operator_zstack_requests_in_flight") == 0,
        message="nothing left in flight",
    )
    polls = value(samples, "zstack_operator_zstack_job_polls_total", api="AddModelService")
    assert polls is not None
    assert polls >= 1
    resources = "zstack_operator_resources"
    ready_now = {"kind": MS, "condition": "Ready", "status": "True", "reason": "Available"}
    assert value(samples, resources, **ready_now) == 1
    assert value(
        samples, resources, kind=MS, condition="Synced", status="True", reason="ReconcileSuccess"
    ) == 1  # fmt: skip

    zstack.delete_behind_our_back(uuid)
    wait_until(
        lambda: zstack.counters()["created"].get(uuid) == 2,
        timeout=60,
        message="the drift check recreates the service",
    )
    ready(kube, namespace, name)
    samples = wait_until(
        lambda: (
            (s := scrape(url))
            and value(s, "zstack_operator_drift_repairs_total", mode="manage")
            and s
        ),
        timeout=30,
        message="the drift repair is counted",
    )
    assert value(samples, "zstack_operator_drift_repairs_total", mode="manage") == 1
    assert value(samples, requests, api="AddModelService", outcome="202") == 2
    assert value(samples, resources, **ready_now) == 1


def test_a_watch_kopf_gives_up_on_ends_the_process(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    """The stuck operator no probe needs to catch: as a user without any rights, kopf retries
    the forbidden list for about a minute, then stops the operator, so the process exits
    non-zero and Kubernetes restarts it (a ZStack outage, above, never does this)."""
    user = "zstack-operator"
    if user not in kube.user_kubeconfigs:
        pytest.skip(f"needs the dev cluster's token user {user!r}")
    kubeconfig: Path = kube.user_kubeconfigs[user]
    # Without leader election: a user without rights could not write the Lease and would only
    # stand by (test_rbac.py shows that); this is about kopf's own watch failing.
    op = operator_factory("--leader-elect=false", kubeconfig=kubeconfig)
    url = op.health_url()
    # Up and ready meanwhile: the API server answers, it only refuses this user the list.
    assert wait_until(lambda: probe(url, "/readyz") == (200, "ok"), message="ready")
    assert probe(url, "/healthz") == (200, "ok")
    assert op.proc is not None
    wait_until(lambda: op.proc.poll() is not None, timeout=120, message="the operator exits")
    assert op.proc.returncode != 0
    logs = op.logs()
    assert f"Watcher for modelservices.v1alpha1.ai.zstack.io@{namespace} has failed" in logs
    assert 'cannot list resource "modelservices"' in logs
