"""The operator end to end: real API server, real simulator process, ``zstack-operator run``.

Driven as users drive it (``kubectl apply`` of the shipped samples), asserting on status,
Events and the simulator's counters. Each test has its own namespace, simulator and operator.
"""

from __future__ import annotations

import re
from datetime import datetime
from pathlib import Path
from typing import Any

import pytest
import yaml

from tests.support.kube import Kube
from tests.support.operator_fixtures import PASSWORD, SimClient, secret_yaml

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
SAMPLE = ROOT / "deploy" / "samples" / "modelservice-basic.yaml"


def sample(**spec: Any) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load(SAMPLE.read_text())
    doc["spec"].update(spec)
    return doc


def apply(kube: Kube, namespace: str, doc: dict[str, Any]) -> str:
    kube.apply(yaml.safe_dump(doc), namespace=namespace)
    return str(doc["metadata"]["name"])


def cond(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for c in obj.get("status", {}).get("conditions", []):
        if c["type"] == type_:
            return dict(c)
    return {}


def wait_cond(
    kube: Kube, namespace: str, name: str, type_: str, status: str, reason: str | None = None
) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = kube.get_or_none("modelservice", name, namespace)
        if obj is None:
            return None
        c = cond(obj, type_)
        ok = c.get("status") == status and (reason is None or c.get("reason") == reason)
        gen_ok = c.get("observedGeneration") == obj["metadata"]["generation"]
        return obj if ok and gen_ok else None

    return kube.wait_until(check, timeout=90, message=f"{name}: {type_}={status} {reason or ''}")


def ready(kube: Kube, namespace: str, name: str) -> dict[str, Any]:
    return wait_cond(kube, namespace, name, "Ready", "True", "Available")


def revision(status: dict[str, Any]) -> str:
    """Which revision ZStack holds: its version, or when it last changed (5.1.x reports none)."""
    return str(status.get("version") or status["lastOpDate"])


def reasons(kube: Kube, namespace: str, name: str) -> list[str]:
    return [e.get("reason", "") for e in kube.events(namespace, name)]


def test_sample_becomes_ready_with_exactly_one_create(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    operator_factory()
    name = apply(kube, namespace, sample())
    obj = ready(kube, namespace, name)
    uuid = obj["status"]["uuid"]
    assert uuid == obj["metadata"]["uid"].replace("-", "")
    assert revision(obj["status"])
    # The simulator prints dates in its node zone (Asia/Shanghai, no zone in the text): read
    # in the wrong zone they would be hours off the API server's clock.
    created = datetime.fromisoformat(obj["status"]["createDate"].replace("Z", "+00:00"))
    born = datetime.fromisoformat(obj["metadata"]["creationTimestamp"].replace("Z", "+00:00"))
    assert abs((created - born).total_seconds()) < 120, (created, born)
    assert cond(obj, "Synced")["reason"] == "ReconcileSuccess"
    assert "pendingJob" not in obj["status"]
    assert "error" not in obj["status"]
    counters = zstack.counters()
    assert counters["createRequests"] == {uuid: 1}
    assert counters["created"] == {uuid: 1}
    assert zstack.service(uuid)["requestCpu"] == obj["spec"]["requestCpu"]
    assert "Available" in reasons(kube, namespace, name)


def test_mutable_edit_sends_one_update_and_immutable_edit_is_refused(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    operator_factory()
    name = apply(kube, namespace, sample())
    first = ready(kube, namespace, name)
    uuid, version = first["status"]["uuid"], first["status"].get("version")

    apply(kube, namespace, sample(requestCpu=8))

    def updated() -> dict[str, Any] | None:
        o = kube.get("modelservice", name, namespace)
        status = o["status"]
        # The version moves with the update; 5.1.x has none, and its lastOpDate is printed to
        # the second, so there the applied generation is what tells.
        moved = status.get("version") != version if version else True
        return o if moved and status.get("observedGeneration") == 2 else None

    kube.wait_until(updated, timeout=60, message="the update is applied")
    obj = ready(kube, namespace, name)
    assert obj["status"]["observedGeneration"] == obj["metadata"]["generation"] == 2
    assert zstack.requests("UpdateModelService") == 1
    service = zstack.service(uuid)
    assert service is not None
    assert service["requestCpu"] == 8
    assert service.get("version") == obj["status"].get("version")  # both absent on 5.1.x

    apply(kube, namespace, sample(requestCpu=8, installPath="/somewhere/else"))
    refused = wait_cond(kube, namespace, name, "Synced", "False", "ImmutableFieldChanged")
    assert "installPath" in cond(refused, "Synced")["message"]
    assert cond(refused, "Ready")["status"] == "True"  # the service itself is fine
    assert zstack.requests("UpdateModelService") == 1
    assert zstack.service(uuid)["installPath"] == first["spec"]["installPath"]
    kube.wait_until(
        lambda: "ImmutableFieldChanged" in reasons(kube, namespace, name),
        timeout=30,
        message="an Event explains the refusal",
    )


def test_delete_removes_the_service_and_orphan_keeps_it(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    operator_factory()
    doomed = apply(kube, namespace, sample())
    kept_doc = sample(deletionPolicy="Orphan")
    kept_doc["metadata"]["name"] = "kept"
    kept = apply(kube, namespace, kept_doc)
    doomed_uuid = ready(kube, namespace, doomed)["status"]["uuid"]
    kept_uuid = ready(kube, namespace, kept)["status"]["uuid"]

    kube.kubectl("delete", "modelservice", doomed, kept, "--wait=true", namespace=namespace)
    assert kube.get_or_none("modelservice", doomed, namespace) is None
    assert zstack.service(doomed_uuid) is None
    assert zstack.service(kept_uuid) is not None
    assert zstack.requests("DeleteModelService") == 1


def test_rejection_is_reported_bounded_and_recovers_after_a_fix(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    operator_factory()
    unknown_center = "ffffffffffffffffffffffffffffffff"
    name = apply(kube, namespace, sample(modelCenterUuid=unknown_center))
    obj = wait_cond(kube, namespace, name, "Synced", "False", "Rejected")
    assert obj["status"]["error"]["code"] == "SYS.1003"
    assert unknown_center in obj["status"]["error"]["details"]
    # Ready says what is true: nothing was created (Creating is only for a create in flight).
    assert cond(obj, "Ready")["reason"] == "NotCreated"
    calls = zstack.requests("AddModelService")
    assert calls == 1
    # No hot loop: a terminal error waits for a spec change (the slow re-check is minutes).
    kube.wait_until(
        lambda: "Rejected" in reasons(kube, namespace, name), timeout=30, message="Event"
    )
    assert zstack.requests("AddModelService") == calls

    fixed = apply(kube, namespace, sample())
    obj = ready(kube, namespace, fixed)
    assert "error" not in obj["status"]
    assert zstack.counters()["created"] == {obj["status"]["uuid"]: 1}


def test_outage_during_create_and_delete_delays_but_never_duplicates(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    operator_factory()
    zstack.faults(outage=True)
    name = apply(kube, namespace, sample())
    wait_cond(kube, namespace, name, "Synced", "False", "ReconcileError")
    zstack.faults(outage=False)
    uuid = ready(kube, namespace, name)["status"]["uuid"]
    assert zstack.counters()["created"] == {uuid: 1}

    zstack.faults(outage=True)
    kube.kubectl("delete", "modelservice", name, "--wait=false", namespace=namespace)
    obj = kube.wait_until(
        lambda: (
            (o := kube.get_or_none("modelservice", name, namespace))
            and cond(o, "Synced").get("reason") == "ReconcileError"
            and o
        ),
        timeout=60,
        message="the delete waits for ZStack",
    )
    assert obj["metadata"]["deletionTimestamp"]
    zstack.faults(outage=False)
    kube.wait_until(
        lambda: kube.get_or_none("modelservice", name, namespace) is None,
        timeout=90,
        message="the finalizer is released after recovery",
    )
    assert zstack.services() == []


def test_sigkill_during_a_held_create_job_resumes_without_a_duplicate(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    op = operator_factory()
    zstack.faults(holdJobs=True)
    name = apply(kube, namespace, sample())
    obj = kube.wait_until(
        lambda: (
            (o := kube.get_or_none("modelservice", name, namespace))
            and o.get("status", {}).get("pendingJob")
            and zstack.requests("AddModelService") == 1
            and o
        ),
        timeout=60,
        message="the create job is pending in status",
    )
    uuid = obj["status"]["uuid"]
    op.kill()
    zstack.faults(holdJobs=False)
    zstack.release_jobs()
    op.restart()
    obj = ready(kube, namespace, name)
    assert obj["status"]["uuid"] == uuid
    counters = zstack.counters()
    assert counters["createRequests"] == {uuid: 1}
    assert counters["created"] == {uuid: 1}


def test_deleted_behind_our_back_is_recreated_with_the_same_uuid(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    operator_factory(drift_interval=2)
    name = apply(kube, namespace, sample())
    uuid = ready(kube, namespace, name)["status"]["uuid"]
    zstack.delete_behind_our_back(uuid)
    kube.wait_until(
        lambda: zstack.counters()["created"].get(uuid) == 2,
        timeout=60,
        message="drift repair recreates the service",
    )
    obj = ready(kube, namespace, name)
    assert obj["status"]["uuid"] == uuid
    assert zstack.service(uuid) is not None


def test_observe_mode_reads_and_reports_a_missing_service(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    operator_factory(drift_interval=2)
    # Create the service the way another tool would, then observe it.
    owner = apply(kube, namespace, sample())
    uuid = ready(kube, namespace, owner)["status"]["uuid"]
    observer = sample(managementPolicy="Observe", resourceUuid=uuid, requestCpu=2)
    observer["metadata"]["name"] = "observer"
    apply(kube, namespace, observer)
    obj = wait_cond(kube, namespace, "observer", "Ready", "True", "Available")
    assert cond(obj, "Synced")["reason"] == "Observing"
    assert "requestCpu" in cond(obj, "Synced")["message"]
    assert zstack.requests("UpdateModelService") == 0

    # The owner lets go of the service (Orphan), then someone deletes it in ZStack.
    kube.kubectl("patch", "modelservice", owner, "--type=merge",
                 "-p", '{"spec":{"deletionPolicy":"Orphan"}}', namespace=namespace)  # fmt: skip
    kube.kubectl("delete", "modelservice", owner, "--wait=true", namespace=namespace)
    zstack.delete_behind_our_back(uuid)
    wait_cond(kube, namespace, "observer", "Ready", "False", "NotFound")
    assert zstack.counters()["created"] == {uuid: 1}  # Observe never recreates


def test_session_expiry_mid_run_is_invisible(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    operator_factory()
    name = apply(kube, namespace, sample())
    ready(kube, namespace, name)
    logins = zstack.requests("LogInByAccount")
    zstack.expire_sessions()
    apply(kube, namespace, sample(requestCpu=6))
    obj = kube.wait_until(
        lambda: (o := ready(kube, namespace, name))["metadata"]["generation"] == 2 and o,
        timeout=60,
        message="the update lands after a silent re-login",
    )
    assert cond(obj, "Synced")["reason"] == "ReconcileSuccess"
    assert zstack.requests("LogInByAccount") == logins + 1
    assert "ReconcileError" not in reasons(kube, namespace, name)


def test_missing_then_wrong_then_fixed_credentials_never_leak(
    kube: Kube, namespace: str, zstack: SimClient, operator_factory: Any
) -> None:
    op = operator_factory(drift_interval=2)
    name = apply(kube, namespace, sample())
    obj = wait_cond(kube, namespace, name, "Synced", "False", "ConnectionUnavailable")
    assert "zstack-credentials" in cond(obj, "Synced")["message"]
    assert "not found" in cond(obj, "Synced")["message"]
    assert "a fix is picked up at once" in cond(obj, "Synced")["message"]

    wrong = "not-the-password-4f9c2b"
    kube.apply(secret_yaml(namespace, {"accountName": "admin", "password": wrong}), namespace)
    obj = wait_cond(kube, namespace, name, "Synced", "False", "Rejected")
    assert obj["status"]["error"]["code"] == "ID.1000"

    kube.apply(secret_yaml(namespace, {"accountName": "admin", "password": PASSWORD}), namespace)
    ready(kube, namespace, name)

    events = kube.kubectl("get", "events", "-o", "yaml", namespace=namespace).stdout
    status = kube.kubectl("get", "modelservice", name, "-o", "yaml", namespace=namespace).stdout
    for text in (op.logs(), events, status):
        assert wrong not in text
        assert PASSWORD not in text


def test_paused_resource_gets_no_writes_until_unpaused(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    operator_factory()
    name = apply(kube, namespace, sample())
    uuid = ready(kube, namespace, name)["status"]["uuid"]
    kube.kubectl("annotate", "modelservice", name, "ai.zstack.io/paused=true",
                 namespace=namespace)  # fmt: skip
    wait_cond(kube, namespace, name, "Synced", "False", "Paused")
    paused = sample(requestCpu=16)
    paused["metadata"]["annotations"] = {"ai.zstack.io/paused": "true"}
    apply(kube, namespace, paused)
    wait_cond(kube, namespace, name, "Synced", "False", "Paused")
    assert zstack.requests("UpdateModelService") == 0
    kube.kubectl("annotate", "modelservice", name, "ai.zstack.io/paused-", namespace=namespace)
    wait_cond(kube, namespace, name, "Synced", "True", "ReconcileSuccess")
    assert zstack.requests("UpdateModelService") == 1
    assert zstack.service(uuid)["requestCpu"] == 16


def test_describe_shows_the_happy_path_in_plain_words(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    operator_factory()
    name = apply(kube, namespace, sample())
    ready(kube, namespace, name)
    events = kube.wait_until(
        lambda: kube.events(namespace, name) or None, timeout=30, message="the Event is posted"
    )
    assert [(e["type"], e["reason"], e["message"]) for e in events] == [
        ("Normal", "Available", "the model service exists in ZStack")
    ]
    assert events[0]["source"]["component"] == "zstack-operator"
    text = kube.kubectl("describe", "modelservice", name, namespace=namespace).stdout
    assert "***" not in text
    for line in (
        r"Message:\s+the model service exists in ZStack",
        r"Message:\s+ZStack matches the spec",
        r"Reason:\s+Available",
        r"Reason:\s+ReconcileSuccess",
        r"Normal\s+Available\s+\S+\s+zstack-operator\s+the model service exists in ZStack",
    ):
        assert re.search(line, text), f"{line!r} not in:\n{text}"


def test_every_failure_log_line_names_the_object_and_the_cause(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    op = operator_factory()
    zstack.faults(outage=True)
    name = apply(kube, namespace, sample())
    wait_cond(kube, namespace, name, "Synced", "False", "ReconcileError")
    kube.wait_until(lambda: "failed temporarily" in op.logs(), timeout=30, message="a retry log")
    zstack.faults(outage=False)
    ready(kube, namespace, name)
    uid = kube.get("modelservice", name, namespace)["metadata"]["uid"].replace("-", "")
    failures = [
        line for line in op.logs().splitlines() if " [WARNING " in line or " [ERROR " in line
    ]
    assert failures
    for line in failures:
        assert f"{namespace}/{name}" in line, line
        assert re.search(rf"\(ZStack uuid {uid}\): \w+ failed: \w", line), line  # the cause
