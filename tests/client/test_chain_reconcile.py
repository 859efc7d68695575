"""The chain's reconcilers, branch by branch, against the simulator over loopback HTTP.

``reconcile_model``/``finalize_model`` and the deployment's run with the real connection pool
and client against an in-process simulator; only Kubernetes is replaced, by ``Cluster``: the
objects of a namespace in memory, their status merged from the writes the reconcilers make
(a merge patch, as the API server applies it). Each test drives passes the way kopf would and
asserts on status, the result, and the simulator's records and counters.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import copy
import uuid as uuidlib
from collections.abc import AsyncIterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from zstack_operator.chain.deployments import finalize_deployment, reconcile_deployment
from zstack_operator.chain.models import finalize_model, reconcile_model
from zstack_operator.chain.seam import ChainDeps, KindOutcome
from zstack_operator.connections import ConnectionPool
from zstack_operator.reconcile import Resource
from zstack_operator.reconcile.model import Done, Requeue, Terminal
from zstack_operator.resources.deployment import DEPLOYMENT_PLURAL
from zstack_operator.resources.model import MODEL_PLURAL
from zstack_operator.settings import SecretRef, Settings
from zstack_operator.sim import SimAdmin, Simulator
from zstack_operator.zstack.ai_models import DeployModelServiceParam
from zstack_operator.zstack.models import AddModelServiceParam

CHAIN = Path(__file__).resolve().parents[2] / "deploy" / "samples" / "chain"
NS = "team-a"
ZONE = "8f14e45fceea467a9b0c7d1e2f3a4b5c"


def sample(name: str) -> dict[str, Any]:
    doc: dict[str, Any] = yaml.safe_load((CHAIN / f"{name}.yaml").read_text())
    return doc


def merge(into: dict[str, Any], patch: dict[str, Any]) -> None:
    """RFC 7386 merge patch, as the API server applies a status write."""
    for key, value in patch.items():
        if value is None:
            into.pop(key, None)
        elif isinstance(value, dict) and isinstance(into.get(key), dict):
            merge(into[key], value)
        else:
            into[key] = copy.deepcopy(value)


class Cluster:
    """The namespace's objects in memory: ``refs.Objects`` and the status writer."""

    def __init__(self) -> None:
        self.objects: dict[tuple[str, str], dict[str, Any]] = {}
        self.writes = 0

    def add(self, plural: str, doc: dict[str, Any], **annotations: str) -> Resource:
        obj = copy.deepcopy(doc)
        obj["metadata"] |= {"namespace": NS, "uid": str(uuidlib.uuid4()), "generation": 1}
        obj["metadata"]["annotations"] = annotations
        obj["status"] = {}
        self.objects[(plural, obj["metadata"]["name"])] = obj
        return self.resource(plural, obj["metadata"]["name"])

    def resource(self, plural: str, name: str) -> Resource:
        obj = self.objects[(plural, name)]
        meta = obj["metadata"]
        return Resource(
            namespace=NS,
            name=name,
            uid=meta["uid"],
            generation=meta["generation"],
            spec=copy.deepcopy(obj["spec"]),
            status=copy.deepcopy(obj["status"]),
            annotations=dict(meta.get("annotations") or {}),
        )

    def edit(self, plural: str, key: str, /, **spec: Any) -> Resource:
        obj = self.objects[(plural, key)]
        obj["spec"] |= spec
        obj["metadata"]["generation"] += 1
        return self.resource(plural, key)

    def annotate(self, plural: str, name: str, **annotations: str | None) -> Resource:
        meta = self.objects[(plural, name)]["metadata"]
        for key, value in annotations.items():
            if value is None:
                meta["annotations"].pop(key, None)
            else:
                meta["annotations"][key] = value
        return self.resource(plural, name)

    async def get(self, plural: str, namespace: str, name: str) -> dict[str, Any] | None:
        found = self.objects.get((plural, name)) if namespace == NS else None
        return copy.deepcopy(found)

    async def list(self, plural: str, namespace: str) -> list[dict[str, Any]]:
        if namespace != NS:
            return []
        return [copy.deepcopy(o) for (p, _n), o in self.objects.items() if p == plural]

    async def secret_value(self, namespace: str, name: str, key: str) -> str | None:
        return None

    async def write_status(self, plural: str, res: Resource, patch: dict[str, Any]) -> None:
        self.writes += 1
        merge(self.objects[(plural, res.name)]["status"], patch)


class SecretSource:
    """get_secret: the operator's credentials Secret (the simulator's admin)."""

    async def get_secret(self, namespace: str, name: str) -> dict[str, Any] | None:
        data = {"accountName": "admin", "password": "password"}
        encoded = {k: base64.b64encode(v.encode()).decode() for k, v in data.items()}
        return {"metadata": {"resourceVersion": "1"}, "data": encoded}


@contextlib.asynccontextmanager
async def on(sim: Simulator, job_wait: float) -> AsyncIterator[tuple[Cluster, ChainDeps, SimAdmin]]:
    """A namespace in memory, the real connection pool on ``sim``, and its admin client."""
    settings = Settings(sim.url, SecretRef("ops", "zs"), allow_insecure_http=True)
    pool = ConnectionPool(settings, SecretSource(), lambda _: [])  # type: ignore[arg-type]
    cluster = Cluster()
    async with SimAdmin(sim.url) as admin:
        yield cluster, ChainDeps(pool, cluster, cluster.write_status, job_wait=job_wait), admin
    await pool.aclose()


@pytest.fixture
async def world(sim: Simulator) -> AsyncIterator[tuple[Cluster, ChainDeps, SimAdmin]]:
    async with on(sim, job_wait=5.0) as parts:
        yield parts


def cond(outcome: KindOutcome, type_: str) -> tuple[str, str, str]:
    for c in outcome.status.conditions:
        if c.type == type_:
            return str(c.status), str(c.reason), c.message
    raise AssertionError(f"no {type_} condition in {outcome.status.conditions}")


async def ready_model(cluster: Cluster, deps: ChainDeps) -> str:
    res = cluster.add(MODEL_PLURAL, sample("model"))
    outcome = await reconcile_model(res, deps)
    assert isinstance(outcome.result, Done), outcome.result
    assert cond(outcome, "Ready")[0] == "True"
    uuid = cluster.objects[(MODEL_PLURAL, "qwen2-7b")]["status"]["uuid"]
    assert isinstance(uuid, str)
    return uuid


async def models_in_zstack(deps: ChainDeps) -> set[str]:
    api = await deps.connections.get(deps.connections.resolve(NS, None, None), NS)
    return {m.uuid for m in await api.ai.query_models([])}


async def test_a_model_is_created_once_with_the_uuid_it_chose(
    world: tuple[Cluster, ChainDeps, SimAdmin],
) -> None:
    cluster, deps, admin = world
    uuid = await ready_model(cluster, deps)
    meta = cluster.objects[(MODEL_PLURAL, "qwen2-7b")]["metadata"]
    assert uuid == meta["uid"].replace("-", "")
    again = await reconcile_model(cluster.resource(MODEL_PLURAL, "qwen2-7b"), deps)
    assert isinstance(again.result, Done)
    counters = await admin.counters()
    assert counters.count("AddModel") == 1
    assert counters.created == {uuid: 1}


async def test_another_resource_uuid_after_the_create_is_refused_without_a_write(
    world: tuple[Cluster, ChainDeps, SimAdmin],
) -> None:
    cluster, deps, admin = world
    uuid = await ready_model(cluster, deps)
    before = await admin.counters()
    other = "0d6f3a2e9c1b4e8f8a7d6c5b4a3f2e1d"
    outcome = await reconcile_model(
        cluster.edit(MODEL_PLURAL, "qwen2-7b", resourceUuid=other), deps
    )
    assert isinstance(outcome.result, Terminal)
    status, reason, message = cond(outcome, "Synced")
    assert (status, reason) == ("False", "ImmutableFieldChanged")
    assert message == (
        f"spec.resourceUuid cannot change once the model exists (it is {uuid}): "
        "restore it, or delete and re-create the Model"
    )
    assert cond(outcome, "Ready")[0] == "True"  # the model itself is fine
    assert (await admin.counters()).requests == before.requests  # not one call to ZStack
    # Restoring the value clears it.
    restored = await reconcile_model(
        cluster.edit(MODEL_PLURAL, "qwen2-7b", resourceUuid=uuid), deps
    )
    assert isinstance(restored.result, Done)
    assert cond(restored, "Synced")[:2] == ("True", "ReconcileSuccess")


async def test_a_paused_models_deletion_waits_until_it_is_unpaused(
    world: tuple[Cluster, ChainDeps, SimAdmin],
) -> None:
    cluster, deps, _admin = world
    uuid = await ready_model(cluster, deps)
    paused = cluster.annotate(MODEL_PLURAL, "qwen2-7b", **{"ai.zstack.io/paused": "true"})
    held = await finalize_model(paused, deps)
    assert held.result == Requeue(10.0, "deletion waits while paused")
    assert cond(held, "Synced") == (
        "False",
        "Paused",
        "deletion waits: paused by annotation ai.zstack.io/paused",
    )
    assert uuid in await models_in_zstack(deps)
    unpaused = cluster.annotate(MODEL_PLURAL, "qwen2-7b", **{"ai.zstack.io/paused": None})
    gone = await finalize_model(unpaused, deps)
    assert isinstance(gone.result, Done)
    assert uuid not in await models_in_zstack(deps)


async def _service(deps: ChainDeps, model: str) -> str:
    """A model service in ZStack, made as another tool would (the deployment names its uuid)."""
    api: Any = await deps.connections.get(deps.connections.resolve(NS, None, None), NS)
    spec = sample("modelservice")["spec"]
    param = AddModelServiceParam(
        name=spec["name"],
        yaml=spec["yaml"],
        request_cpu=spec["requestCpu"],
        request_memory=spec["requestMemory"],
        model_center_uuid=spec["modelCenterUuid"],
        install_path=spec["installPath"],
        start_command=spec["startCommand"],
        model_uuids=[model],
    )
    inventory = await api.client.add_model_service(param, wait=5.0)
    return str(inventory.uuid)


def _deployment(service: str, model: str) -> dict[str, Any]:
    doc = sample("deployment")
    doc["spec"].pop("modelServiceRef")
    doc["spec"].pop("modelRef")
    doc["spec"] |= {"modelServiceUuid": service, "modelUuid": model}
    return doc


async def _deployed(cluster: Cluster, deps: ChainDeps, **annotations: str) -> str:
    model = await ready_model(cluster, deps)
    service = await _service(deps, model)
    res = cluster.add(DEPLOYMENT_PLURAL, _deployment(service, model), **annotations)
    for _ in range(50):  # the simulator's group runs 200 ms after its job; kopf would requeue
        outcome = await reconcile_deployment(res, deps)
        if isinstance(outcome.result, Done):
            break
        assert isinstance(outcome.result, Requeue), outcome.result
        await asyncio.sleep(0.1)
        res = cluster.resource(DEPLOYMENT_PLURAL, "qwen2-chat")
    assert cond(outcome, "Ready")[0] == "True", outcome.status.conditions
    group = cluster.objects[(DEPLOYMENT_PLURAL, "qwen2-chat")]["status"]["uuid"]
    assert isinstance(group, str)
    return group


async def test_a_paused_deployments_deletion_waits_and_keeps_the_group(
    world: tuple[Cluster, ChainDeps, SimAdmin],
) -> None:
    cluster, deps, admin = world
    group = await _deployed(cluster, deps)
    paused = cluster.annotate(DEPLOYMENT_PLURAL, "qwen2-chat", **{"ai.zstack.io/paused": "true"})
    held = await finalize_deployment(paused, deps)
    assert held.result == Requeue(10.0, "deletion waits while paused")
    assert [g.uuid for g in await admin.instance_groups()] == [group]
    unpaused = cluster.annotate(DEPLOYMENT_PLURAL, "qwen2-chat", **{"ai.zstack.io/paused": None})
    gone = await finalize_deployment(unpaused, deps)
    assert isinstance(gone.result, Done)
    assert await admin.instance_groups() == []


async def test_paused_before_the_first_deploy_sends_nothing(
    world: tuple[Cluster, ChainDeps, SimAdmin],
) -> None:
    cluster, deps, admin = world
    model = await ready_model(cluster, deps)
    service = await _service(deps, model)
    res = cluster.add(
        DEPLOYMENT_PLURAL, _deployment(service, model), **{"ai.zstack.io/paused": "true"}
    )
    outcome = await reconcile_deployment(res, deps)
    assert isinstance(outcome.result, Done)
    assert cond(outcome, "Ready")[:2] == ("False", "NotCreated")
    assert cond(outcome, "Synced")[:2] == ("False", "Paused")
    assert (await admin.counters()).count("DeployModelService") == 0
    # Deleting it needs no ZStack call either: nothing was ever sent.
    gone = await finalize_deployment(
        cluster.annotate(DEPLOYMENT_PLURAL, "qwen2-chat", **{"ai.zstack.io/paused": None}), deps
    )
    assert isinstance(gone.result, Done)
    assert (await admin.counters()).count("DeployModelService") == 0


async def test_a_deployment_waits_visibly_for_a_model_that_does_not_exist(
    world: tuple[Cluster, ChainDeps, SimAdmin],
) -> None:
    cluster, deps, admin = world
    res = cluster.add(DEPLOYMENT_PLURAL, sample("deployment"))
    outcome = await reconcile_deployment(res, deps)
    assert outcome.result == Requeue(3.0, "waiting for ModelService qwen2-vllm: it does not "
                                     f"exist in namespace {NS}")  # fmt: skip
    assert cond(outcome, "Ready") == (
        "False",
        "WaitingForDependency",
        f"waiting for ModelService qwen2-vllm: it does not exist in namespace {NS}",
    )
    assert (await admin.counters()).requests == {}  # nothing asked of ZStack


async def test_a_deploy_job_forgotten_by_zstack_finds_its_own_group(
    sim_factory: Any,
) -> None:
    sim = await sim_factory(job_ttl=0.5)
    async with on(sim, job_wait=0.3) as (cluster, deps, admin):
        model = await ready_model(cluster, deps)
        service = await _service(deps, model)
        await admin.set_faults(hold_jobs=True)
        res = cluster.add(DEPLOYMENT_PLURAL, _deployment(service, model))
        out = await reconcile_deployment(res, deps)
        assert isinstance(out.result, Requeue), out.result
        pending = cluster.objects[(DEPLOYMENT_PLURAL, "qwen2-chat")]["status"]["pendingJob"]
        assert pending["action"] == "Deploy"
        # The job finishes and is forgotten before the operator looks again (it was down).
        await admin.set_faults(hold_jobs=False)
        await asyncio.sleep(2.0)
        assert pending["uuid"] not in {j.uuid for j in await admin.jobs()}
        groups = await admin.instance_groups()
        assert len(groups) == 1
        res = cluster.resource(DEPLOYMENT_PLURAL, "qwen2-chat")
        out = await reconcile_deployment(res, deps)
        status = cluster.objects[(DEPLOYMENT_PLURAL, "qwen2-chat")]["status"]
        assert status["uuid"] == groups[0].uuid
        assert "pendingJob" not in status
        assert (await admin.counters()).count("DeployModelService") == 1


async def test_a_recorded_deploy_that_never_reached_zstack_is_sent_once(
    world: tuple[Cluster, ChainDeps, SimAdmin],
) -> None:
    cluster, deps, admin = world
    model = await ready_model(cluster, deps)
    service = await _service(deps, model)
    await admin.set_faults(outage=True)  # every request dropped unanswered
    res = cluster.add(DEPLOYMENT_PLURAL, _deployment(service, model))
    out = await reconcile_deployment(res, deps)
    assert out.result.__class__.__name__ == "Retry", out.result
    status = cluster.objects[(DEPLOYMENT_PLURAL, "qwen2-chat")]["status"]
    assert status["pendingJob"]["action"] == "Deploy"  # recorded before the send
    assert await admin.instance_groups() == []
    await admin.set_faults(outage=False)
    for _ in range(50):
        out = await reconcile_deployment(cluster.resource(DEPLOYMENT_PLURAL, "qwen2-chat"), deps)
        if isinstance(out.result, Done):
            break
        await asyncio.sleep(0.1)
    groups = await admin.instance_groups()
    assert [g.uuid for g in groups] == [
        cluster.objects[(DEPLOYMENT_PLURAL, "qwen2-chat")]["status"]["uuid"]
    ]
    # Sent while ZStack was down (dropped unread), then once when it was back: one group.
    requests = (await admin.counters()).requests
    assert sum(outcomes.get("reset", 0) for outcomes in requests.values()) >= 1
    assert requests["DeployModelService"] == {"202": 1}


async def test_only_the_name_of_a_deployment_changes_in_place(
    world: tuple[Cluster, ChainDeps, SimAdmin],
) -> None:
    cluster, deps, admin = world
    group = await _deployed(cluster, deps)
    renamed = await reconcile_deployment(
        cluster.edit(DEPLOYMENT_PLURAL, "qwen2-chat", name="qwen2-chat-2"), deps
    )
    assert isinstance(renamed.result, Done)
    assert [(g.uuid, g.name) for g in await admin.instance_groups()] == [(group, "qwen2-chat-2")]
    refused = await reconcile_deployment(
        cluster.edit(DEPLOYMENT_PLURAL, "qwen2-chat", cpuNum=8), deps
    )
    assert isinstance(refused.result, Terminal)
    status, reason, message = cond(refused, "Synced")
    assert (status, reason) == ("False", "ImmutableFieldChanged")
    assert message.startswith("spec.cpuNum cannot change once deployed")
    assert cond(refused, "Ready")[0] == "True"  # still serving what it deployed
    assert [g.uuid for g in await admin.instance_groups()] == [group]
    assert (await admin.counters()).count("DeployModelService") == 1


@pytest.mark.parametrize("release", ["5.5.22", "5.1.20"])
async def test_a_forgotten_job_with_a_lookalike_group_never_guesses(
    sim_factory: Any, release: str
) -> None:
    """Another tool deploys the same service under the same name while the job is out.

    Where ZStack keeps the Deploy's userTags (the newest release), the owner tag tells the
    groups apart. Where it does not (5.1.20), the deployment waits and names both groups, and
    takes its own once the stray one is deleted.
    """
    sim = await sim_factory(job_ttl=0.5, zstack_version=release)
    async with on(sim, job_wait=0.3) as (cluster, deps, admin):
        model = await ready_model(cluster, deps)
        service = await _service(deps, model)
        await admin.set_faults(hold_jobs=True)
        res = cluster.add(DEPLOYMENT_PLURAL, _deployment(service, model))
        assert isinstance((await reconcile_deployment(res, deps)).result, Requeue)
        api: Any = await deps.connections.get(deps.connections.resolve(NS, None, None), NS)
        await admin.set_faults(hold_jobs=False)
        param = DeployModelServiceParam(name="qwen2-chat", model_uuid=model, zone_uuid=ZONE,
                                        type="Container")  # fmt: skip
        stray = await api.ai.deploy_model_service(service, param, wait=5.0)
        await asyncio.sleep(2.0)  # both jobs done and forgotten
        out = await reconcile_deployment(cluster.resource(DEPLOYMENT_PLURAL, "qwen2-chat"), deps)
        status = cluster.objects[(DEPLOYMENT_PLURAL, "qwen2-chat")]["status"]
        groups = {g.uuid for g in await admin.instance_groups()}
        assert len(groups) == 2
        if release == "5.5.22":
            assert status["uuid"] in groups - {stray.uuid}
        else:
            assert out.result.__class__ is Requeue
            assert out.result.after == 60.0
            synced = cond(out, "Synced")
            assert synced[:2] == ("False", "NotOwned")
            assert "2 instance groups could be the one it made" in synced[2]
            assert stray.uuid in synced[2]
            assert "uuid" not in status
            assert status["pendingJob"]["action"] == "Deploy"
            await api.ai.delete_instance_group(stray.uuid, wait=5.0)
            await reconcile_deployment(cluster.resource(DEPLOYMENT_PLURAL, "qwen2-chat"), deps)
            status = cluster.objects[(DEPLOYMENT_PLURAL, "qwen2-chat")]["status"]
            assert status["uuid"] in groups - {stray.uuid}
        assert "pendingJob" not in status
        assert (await admin.counters()).count("DeployModelService") == 2  # ours and the stray


async def test_a_pass_on_an_older_status_follows_the_deploy_instead_of_failing(
    world: tuple[Cluster, ChainDeps, SimAdmin],
) -> None:
    """A pass that read the object before another pass deployed it sends the same job again.

    ZStack answers "Duplicate job uuid"; the pass follows that job to the same group: no second
    group, no failure counted, nothing for a person to fix.
    """
    cluster, deps, admin = world
    model = await ready_model(cluster, deps)
    service = await _service(deps, model)
    stale = cluster.add(DEPLOYMENT_PLURAL, _deployment(service, model))
    first = await reconcile_deployment(stale, deps)
    assert isinstance(first.result, Requeue), first.result  # deployed, not running yet
    group = cluster.objects[(DEPLOYMENT_PLURAL, "qwen2-chat")]["status"]["uuid"]
    again = await reconcile_deployment(stale, deps)  # the status as it was before the deploy
    status = cluster.objects[(DEPLOYMENT_PLURAL, "qwen2-chat")]["status"]
    assert status["uuid"] == group
    assert "failedJobs" not in status
    assert cond(again, "Synced")[:2] == ("True", "ReconcileSuccess")
    assert [g.uuid for g in await admin.instance_groups()] == [group]
    deploys = (await admin.counters()).requests["DeployModelService"]
    assert deploys == {"202": 1, "400": 1}, deploys
