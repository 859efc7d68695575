"""The whole chain end to end: a Model, a ModelService bound to it and a deployment serving it.

Applied as users apply it (one ``kubectl apply -f`` of the shipped folder, in any order), on the
real API server with the simulator and ``zstack-operator run``; asserts on status, the endpoint
the status names (called over HTTP), and the simulator's records and counters.
"""

from __future__ import annotations

import shutil
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml

from tests.support.kube import Kube
from tests.support.operator_fixtures import SimClient

pytestmark = pytest.mark.e2e

CHAIN = Path(__file__).resolve().parents[2] / "deploy" / "samples" / "chain"


def cond(obj: dict[str, Any], type_: str) -> dict[str, Any]:
    for c in obj.get("status", {}).get("conditions", []):
        if c["type"] == type_:
            return dict(c)
    return {}


def wait_ready(kube: Kube, namespace: str, kind: str, name: str) -> dict[str, Any]:
    def check() -> dict[str, Any] | None:
        obj = kube.get_or_none(kind, name, namespace)
        if obj is None:
            return None
        ready = cond(obj, "Ready")
        return obj if ready.get("status") == "True" else None

    return kube.wait_until(check, timeout=120, message=f"{kind}/{name} Ready")


def sim_get(zstack: SimClient, path: str) -> dict[str, Any]:
    reply = httpx.get(f"{zstack.url}{path}", timeout=10)
    reply.raise_for_status()
    body: dict[str, Any] = reply.json()
    return body


def groups(zstack: SimClient) -> list[dict[str, Any]]:
    return list(sim_get(zstack, "/_sim/instance-groups")["groups"])


def folder(tmp_path: Path, order: list[str]) -> Path:
    """The chain folder with its files renamed so that ``kubectl apply -f`` takes ``order``."""
    out = tmp_path / "chain"
    out.mkdir()
    for i, name in enumerate(order):
        shutil.copy(CHAIN / f"{name}.yaml", out / f"{i}-{name}.yaml")
    return out


def test_folder_in_any_order_serves_and_deletes_cleanly(
    kube: Kube,
    namespace: str,
    zstack: SimClient,
    credentials: Any,
    operator_factory: Any,
    tmp_path: Path,
) -> None:
    operator_factory()
    # The deployment first, the model last: everything waits for what it needs.
    path = folder(tmp_path, ["deployment", "modelservice", "model"])
    kube.kubectl("apply", "-n", namespace, "-f", str(path))
    msd = wait_ready(kube, namespace, "modelservicedeployment", "qwen2-chat")
    model = wait_ready(kube, namespace, "model", "qwen2-7b")
    service = wait_ready(kube, namespace, "modelservice", "qwen2-vllm")

    status = msd["status"]
    assert status["status"] == "Running"
    assert status["readyInstances"] == "1/1"
    assert status["modelUuid"] == model["status"]["uuid"]
    assert status["modelServiceUuid"] == service["status"]["uuid"]
    assert model["status"]["uuid"] in status.get("deployedWith", {}).get("modelUuid", "")
    reply = httpx.get(status["endpoint"], timeout=10)
    assert reply.status_code == 200
    assert reply.json()["groupUuid"] == status["uuid"]
    assert reply.json()["modelUuid"] == model["status"]["uuid"]
    # The service is bound to the model it names by reference.
    inventory = zstack.service(service["status"]["uuid"])
    assert inventory is not None
    bound = [r["modelUuid"] for r in inventory.get("modelServiceRefs") or []]
    assert bound == [model["status"]["uuid"]]
    assert [g["uuid"] for g in groups(zstack)] == [status["uuid"]]
    created = zstack.counters()["created"]
    for uuid in (status["uuid"], model["status"]["uuid"], service["status"]["uuid"]):
        assert created.get(uuid) == 1, created
    events = [e.get("reason") for e in kube.events(namespace, "qwen2-chat")]
    assert "WaitingForDependency" in events
    waits = [e.get("message", "") for e in kube.events(namespace, "qwen2-chat")]
    assert any("waiting for ModelService qwen2-vllm: it " in m for m in waits), waits

    # Rename: the one field ZStack changes in place.
    kube.kubectl(
        "patch", "-n", namespace, "modelservicedeployment", "qwen2-chat", "--type=merge",
        "-p", '{"spec": {"name": "qwen2-chat-renamed"}}',
    )  # fmt: skip

    def renamed() -> bool:
        return [g["name"] for g in groups(zstack)] == ["qwen2-chat-renamed"]

    kube.wait_until(renamed, timeout=60, message="group renamed")
    # Any other field cannot change: refused, said in status, nothing redeployed.
    kube.kubectl(
        "patch", "-n", namespace, "modelservicedeployment", "qwen2-chat", "--type=merge",
        "-p", '{"spec": {"cpuNum": 8}}',
    )  # fmt: skip

    def refused() -> dict[str, Any] | None:
        obj = kube.get_or_none("modelservicedeployment", "qwen2-chat", namespace)
        synced = cond(obj or {}, "Synced")
        return obj if synced.get("reason") == "ImmutableFieldChanged" else None

    obj = kube.wait_until(refused, timeout=60, message="cpuNum change refused")
    assert "spec.cpuNum cannot change once deployed" in cond(obj, "Synced")["message"]
    assert len(groups(zstack)) == 1

    # Deleting the folder deletes everything in ZStack, in a safe order, nothing left.
    kube.kubectl("delete", "-n", namespace, "-f", str(path), "--timeout=120s")
    assert groups(zstack) == []
    assert zstack.service(service["status"]["uuid"]) is None
    assert zstack.counters()["resources"] == 0
    gone = httpx.get(status["endpoint"], timeout=10)
    assert gone.status_code == 404


def test_deployment_against_a_missing_model_waits_then_converges(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    operator_factory()
    for name in ("modelservice", "deployment"):
        doc = yaml.safe_load((CHAIN / f"{name}.yaml").read_text())
        if name == "modelservice":
            doc["spec"].pop("modelRefs")
        kube.apply(yaml.safe_dump(doc), namespace=namespace)

    def waiting() -> dict[str, Any] | None:
        obj = kube.get_or_none("modelservicedeployment", "qwen2-chat", namespace)
        ready = cond(obj or {}, "Ready")
        waits = ready.get("reason") == "WaitingForDependency"
        return obj if waits and "Model qwen2-7b" in ready.get("message", "") else None

    # First the service (not Ready for a moment), then the model, which never comes.
    obj = kube.wait_until(waiting, timeout=60, message="deployment waits for its model")
    message = cond(obj, "Ready")["message"]
    assert message == f"waiting for Model qwen2-7b: it does not exist in namespace {namespace}"
    assert cond(obj, "Synced")["reason"] == "WaitingForDependency"
    assert groups(zstack) == []
    kube.apply((CHAIN / "model.yaml").read_text(), namespace=namespace)
    wait_ready(kube, namespace, "modelservicedeployment", "qwen2-chat")
    assert len(groups(zstack)) == 1


def test_sigkill_while_deploying_leaves_exactly_one_group(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    operator = operator_factory()
    for name in ("model", "modelservice"):
        kube.apply((CHAIN / f"{name}.yaml").read_text(), namespace=namespace)
    wait_ready(kube, namespace, "modelservice", "qwen2-vllm")
    zstack.faults(holdJobs=True)
    kube.apply((CHAIN / "deployment.yaml").read_text(), namespace=namespace)

    def sent() -> bool:
        return zstack.requests("DeployModelService") >= 1

    kube.wait_until(sent, timeout=60, message="Deploy sent")
    operator.kill()  # mid-job: the group does not exist yet, its job is held
    obj = kube.get("modelservicedeployment", "qwen2-chat", namespace)
    assert obj["status"]["pendingJob"]["action"] == "Deploy"
    assert "uuid" not in obj["status"]
    operator.restart()
    zstack.faults(holdJobs=False)
    msd = wait_ready(kube, namespace, "modelservicedeployment", "qwen2-chat")
    assert [g["uuid"] for g in groups(zstack)] == [msd["status"]["uuid"]]
    assert zstack.counters()["created"][msd["status"]["uuid"]] == 1
    assert "pendingJob" not in msd["status"]


def test_deleting_a_connection_waits_for_the_models_that_use_it(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    from tests.e2e.test_tenancy import connection, wait_conn
    from tests.support.operator_fixtures import SECRET_NAME

    operator_factory()
    conn = connection(namespace, "default", SECRET_NAME, zstack.url)
    kube.apply(yaml.safe_dump(conn), namespace=namespace)
    wait_conn(kube, namespace, "default", "True")
    kube.apply((CHAIN / "model.yaml").read_text(), namespace=namespace)
    model = wait_ready(kube, namespace, "model", "qwen2-7b")
    assert model["status"]["connection"] == "ZStackConnection/default"
    assert model["status"]["uuid"] in {m["uuid"] for m in zstack.models()}
    # A Model is no ModelService: the guard lists it, or its record could not be deleted.
    kube.kubectl("-n", namespace, "delete", "zstackconnection", "default", "--wait=false")
    held = wait_conn(kube, namespace, "default", "False", "InUse")
    message = cond(held, "Ready")["message"]
    assert message == (
        f"deletion waits: 1 object(s) use this connection (Model {namespace}/qwen2-7b);"
        " delete them or point them at another connection first"
    )
    kube.kubectl("-n", namespace, "delete", "model", "qwen2-7b", "--timeout=60s")
    assert model["status"]["uuid"] not in {m["uuid"] for m in zstack.models()}
    kube.wait_until(
        lambda: kube.get_or_none("zstackconnection", "default", namespace) is None or None,
        timeout=60,
        message="the connection goes once unused",
    )
