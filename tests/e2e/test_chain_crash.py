"""SIGKILL of the operator during each create of the chain leaves exactly one ZStack object each.

The windows, for a Model, a ModelService bound to it and a deployment: the create job is out
and held when the operator dies; the job then finishes while no operator runs; the operator
comes back either while ZStack still remembers the job, or after ZStack has forgotten it (the
simulator runs with a short ``--job-ttl``), so the object must find its own record without
the job's answer. A last case kills it after the deployment's job is recorded in status but
before the request reached ZStack (the simulator is down), so the job was never run at all.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from tests.e2e.test_chain import CHAIN, cond, groups, wait_ready
from tests.support.kube import Kube
from tests.support.operator_fixtures import SimClient, SimProcess

pytestmark = pytest.mark.e2e

#: Seconds ZStack (the simulator) remembers a finished job in this module.
JOB_TTL = 2.0
#: The chain in dependency order: file, kind, the create API.
ORDER = (
    ("model", "model", "AddModel", "qwen2-7b"),
    ("modelservice", "modelservice", "AddModelService", "qwen2-vllm"),
    ("deployment", "modelservicedeployment", "DeployModelService", "qwen2-chat"),
)


@pytest.fixture
def zstack(tmp_path: Path) -> Iterator[SimClient]:
    """The e2e simulator, forgetting finished jobs after ``JOB_TTL`` seconds."""
    handle = SimProcess(tmp_path, "--job-ttl", f"{JOB_TTL:g}")
    handle.start()
    client = SimClient(handle.url, handle)
    yield client
    client.close()
    handle.stop()


def apply(kube: Kube, namespace: str, file: str) -> None:
    kube.apply((CHAIN / f"{file}.yaml").read_text(), namespace=namespace)


def assert_one_each(
    kube: Kube, namespace: str, zstack: SimClient, counted: tuple[str, ...] = ()
) -> None:
    """Every kind Ready, one ZStack record each, each created once, bound as declared.

    ``counted``: the kinds whose creates the simulator's counters saw (all, unless it was
    restarted: its records persist, its counters start at zero).
    """
    objs = {kind: wait_ready(kube, namespace, kind, name) for _f, kind, _a, name in ORDER}
    uuids = {kind: obj["status"]["uuid"] for kind, obj in objs.items()}
    created = zstack.counters()["created"]
    assert created == {uuids[kind]: 1 for kind in counted or uuids}, (created, uuids)
    assert [g["uuid"] for g in groups(zstack)] == [uuids["modelservicedeployment"]]
    assert [s["uuid"] for s in zstack.services()] == [uuids["modelservice"]]
    service = zstack.service(uuids["modelservice"]) or {}
    assert [r["modelUuid"] for r in service.get("modelServiceRefs") or []] == [uuids["model"]]
    for obj in objs.values():
        assert "pendingJob" not in obj["status"], obj["status"]


@pytest.mark.parametrize("forgotten", [False, True], ids=["job-remembered", "job-forgotten"])
@pytest.mark.parametrize("target", [o[0] for o in ORDER])
def test_sigkill_during_a_create_leaves_one_object_each(
    kube: Kube,
    namespace: str,
    zstack: SimClient,
    credentials: Any,
    operator_factory: Any,
    target: str,
    forgotten: bool,
) -> None:
    operator = operator_factory()
    index = [o[0] for o in ORDER].index(target)
    for file, kind, _api, name in ORDER[:index]:
        apply(kube, namespace, file)
        wait_ready(kube, namespace, kind, name)
    _file, kind, api, name = ORDER[index]
    zstack.faults(holdJobs=True)
    apply(kube, namespace, target)
    kube.wait_until(lambda: zstack.requests(api) >= 1, timeout=60, message=f"{api} sent")
    operator.kill()
    if target == "deployment":  # its one safeguard ZStack cannot give: recorded before sent
        assert kube.get(kind, name, namespace)["status"]["pendingJob"]["action"] == "Deploy"
    # A Model and a ModelService need no record: their ZStack uuid derives from the object.
    zstack.faults(holdJobs=False)  # the job finishes while no operator runs
    if forgotten:
        time.sleep(JOB_TTL + 1.5)  # the simulator's janitor runs every second
    for file, _k, _a, _n in ORDER[index + 1 :]:
        apply(kube, namespace, file)
    operator.restart()
    assert_one_each(kube, namespace, zstack)
    assert zstack.requests(api) <= 2  # the send, and at most one resend of the same job


def test_sigkill_after_the_deploy_job_is_recorded_but_never_sent(
    kube: Kube, namespace: str, zstack: SimClient, credentials: Any, operator_factory: Any
) -> None:
    operator = operator_factory()
    for file, kind, _api, name in ORDER[:2]:
        apply(kube, namespace, file)
        wait_ready(kube, namespace, kind, name)
    handle: SimProcess = zstack.handle
    handle.stop()  # ZStack unreachable: the recorded job cannot reach it
    apply(kube, namespace, "deployment")

    def recorded() -> dict[str, Any] | None:
        obj = kube.get_or_none("modelservicedeployment", "qwen2-chat", namespace) or {}
        return obj if (obj.get("status") or {}).get("pendingJob") else None

    obj = kube.wait_until(recorded, timeout=60, message="the Deploy job recorded in status")
    operator.kill()
    assert obj["status"]["pendingJob"]["action"] == "Deploy"
    handle.start()
    operator.restart()
    assert_one_each(kube, namespace, zstack, counted=("modelservicedeployment",))
    msd = kube.get("modelservicedeployment", "qwen2-chat", namespace)
    assert cond(msd, "Ready")["status"] == "True"
    # The job never ran: the operator asked for it, did not find it, looked for its group,
    # found none, and sent it once.
    assert zstack.requests("DeployModelService") == 1
