"""Deployments through the client against the simulator: statuses, URLs, faults, releases.

The real client (``client.ai``) over loopback HTTP; the instance URLs an inventory names are
called with plain httpx, as a user of the deployed model would.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import httpx
import pytest
from zstack_operator.sim import DEFAULT_MODEL_UUIDS, DEFAULT_ZONE_UUID, SimMode, Simulator
from zstack_operator.zstack import JobTimeoutError, ZStackAPIError, ZStackClient
from zstack_operator.zstack.ai_models import (
    DeploymentType,
    DeployModelServiceParam,
    ModelServiceInstanceGroupInventory,
)
from zstack_operator.zstack.models import DeleteMode

from tests.support.client_helpers import ADMIN, param
from tests.support.sim_fixtures import SimFactory

RESOURCE_UUID = "2" * 12 + "4" + "2" * 3 + "8" + "2" * 15


def deployment(**overrides: object) -> DeployModelServiceParam:
    values: dict[str, object] = {
        "name": "llama-prod",
        "zone_uuid": DEFAULT_ZONE_UUID,
        "type": DeploymentType.CONTAINER,
        "model_uuid": DEFAULT_MODEL_UUIDS[0],
    }
    values.update(overrides)
    return DeployModelServiceParam.model_validate(values)


@pytest.fixture
async def http() -> AsyncIterator[httpx.AsyncClient]:
    async with httpx.AsyncClient(trust_env=False, timeout=10) as client:
        yield client


async def until_status(
    zs: ZStackClient, uuid: str, wanted: str, seconds: float = 10.0
) -> tuple[ModelServiceInstanceGroupInventory, list[str]]:
    """Poll the group until it reports ``wanted``; returns it and every status seen."""
    seen: list[str] = []
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        group = await zs.ai.get_instance_group(uuid)
        assert group is not None
        if not seen or seen[-1] != group.status:
            seen.append(str(group.status))
        if group.status == wanted:
            return group, seen
        await asyncio.sleep(0.01)
    raise AssertionError(f"group {uuid} never became {wanted}; saw {seen}")


@pytest.mark.parametrize("mode", [SimMode.ASYNC, SimMode.SYNC], ids=["async", "sync"])
async def test_a_deployment_progresses_to_running_and_its_url_answers(
    sim_factory: SimFactory, http: httpx.AsyncClient, mode: SimMode
) -> None:
    sim = await sim_factory(mode=mode, deploy_duration_ms=400)
    async with ZStackClient(sim.url, ADMIN) as zs:
        service = await zs.add_model_service(param())
        group = await zs.ai.deploy_model_service(service.uuid, deployment())
        assert group.status == "Deploying"
        assert (group.model_service_uuid, group.model_uuid) == (
            service.uuid,
            DEFAULT_MODEL_UUIDS[0],
        )
        assert group.model_service_type == "Endpoint"
        assert group.type == "Container"
        assert group.instances is not None
        (instance,) = group.instances
        assert instance.url is None  # not before it runs
        assert instance.k8s_resource_yaml == service.yaml
        running, seen = await until_status(zs, group.uuid, "Running")
        assert seen[-2:] == ["Starting", "Running"]
        assert running.last_op_date is not None
        assert running.create_date is not None
        assert running.last_op_date >= running.create_date
        assert running.instances is not None
        (live,) = running.instances
        assert live.status == "Running"
        assert live.url is not None
        assert live.url.startswith(sim.url)
        health = await http.get(live.url)
        assert health.status_code == 200
        assert health.json() == {
            "instanceUuid": live.uuid,
            "groupUuid": group.uuid,
            "modelUuid": DEFAULT_MODEL_UUIDS[0],
            "modelServiceUuid": service.uuid,
            "status": "Running",
            "path": "/",
        }
        assert live.url_maps is not None
        assert (await http.get(live.url_maps["health"])).json()["path"] == "/health"
        assert live.internal_url is not None
        assert (await http.post(live.internal_url)).status_code == 200


async def test_an_endpoint_refuses_before_running(
    sim_factory: SimFactory, http: httpx.AsyncClient
) -> None:
    sim = await sim_factory(deploy_duration_ms=60_000)
    async with ZStackClient(sim.url, ADMIN) as zs:
        service = await zs.add_model_service(param())
        group = await zs.ai.deploy_model_service(service.uuid, deployment())
        assert group.instances is not None
        (sim_group,) = await sim.admin.instance_groups()
        url = f"{sim.url}/_sim/endpoints/{sim_group.instance_uuids[0]}/"
        early = await http.get(url)
        assert (early.status_code, early.json()["status"]) == (503, "Deploying")


async def test_a_failed_deployment_fault(sim_factory: SimFactory, http: httpx.AsyncClient) -> None:
    sim = await sim_factory(deploy_duration_ms=50)
    await sim.admin.set_faults(deploy_fail_rate=1.0)
    async with ZStackClient(sim.url, ADMIN) as zs:
        service = await zs.add_model_service(param())
        group = await zs.ai.deploy_model_service(service.uuid, deployment())
        failed, seen = await until_status(zs, group.uuid, "Failed")
        assert "Running" not in seen
        assert failed.instances is not None
        assert all(i.status == "Failed" and i.url is None for i in failed.instances)
        (sim_group,) = await sim.admin.instance_groups()
        answer = await http.get(f"{sim.url}/_sim/endpoints/{sim_group.instance_uuids[0]}/")
        assert (answer.status_code, answer.json()["status"]) == (503, "Failed")
        await sim.admin.set_faults(deploy_fail_rate=0.0)
        again = await zs.ai.deploy_model_service(service.uuid, deployment(name="retry"))
        await until_status(zs, again.uuid, "Running")


async def test_delete_removes_the_group_and_its_urls_stop_answering(
    sim_factory: SimFactory, http: httpx.AsyncClient
) -> None:
    sim = await sim_factory(deploy_duration_ms=0, instances_per_group=2)
    async with ZStackClient(sim.url, ADMIN) as zs:
        service = await zs.add_model_service(param())
        group = await zs.ai.deploy_model_service(
            service.uuid, deployment(type=DeploymentType.VIRTUAL_MACHINE)
        )
        assert group.status == "Running"
        assert group.instances is not None
        urls = [i.url for i in group.instances]
        assert len(set(urls)) == 2
        assert all(
            i.vm_instance_uuid and i.vm and i.vm["state"] == "Running" for i in group.instances
        )
        for url in urls:
            assert url is not None
            assert (await http.get(url)).status_code == 200
        with pytest.raises(ZStackAPIError) as refused:  # the service still has a deployment
            await zs.delete_model_service(service.uuid)
        assert refused.value.error.code == "SYS.1006"
        await zs.ai.delete_instance_group(group.uuid)
        assert await zs.ai.get_instance_group(group.uuid) is None
        for url in urls:
            assert url is not None
            assert (await http.get(url)).status_code == 404
        await zs.ai.delete_instance_group(group.uuid)  # a missing group is success
        await zs.delete_model_service(service.uuid)
    counters = await sim.admin.counters()
    assert counters.count("DeleteModelServiceInstanceGroup", "202") == 2
    assert counters.created[group.uuid] == 1


async def test_5_1_20_deploys_without_a_resource_uuid(sim_factory: SimFactory) -> None:
    sim = await sim_factory(zstack_version="5.1.20", deploy_duration_ms=0)
    async with ZStackClient(sim.url, ADMIN) as zs:
        service = await zs.add_model_service(param(architecture_images=None))
        plain = await zs.ai.deploy_model_service(service.uuid, deployment())
        assert plain.status == "Running"
        assert plain.description is None  # 5.1.20's group has none
        assert plain.instances is not None
        assert plain.instances[0].name is None
        # A resourceUuid is not a Deploy field there: dropped, the group gets its own uuid.
        sent = await zs.ai.deploy_model_service(
            service.uuid, deployment(resource_uuid=RESOURCE_UUID, description="d")
        )
        assert sent.uuid != RESOURCE_UUID
        bare_metal = deployment(type=DeploymentType.BARE_METAL2)
        with pytest.raises(ZStackAPIError) as refused:
            await zs.ai.deploy_model_service(service.uuid, bare_metal)
        assert "[VirtualMachine, Container]" in str(refused.value.error.details)
    assert (await sim.admin.counters()).create_requests == {}


async def test_the_newest_release_honours_a_resource_uuid_once(sim: Simulator) -> None:
    async with ZStackClient(sim.url, ADMIN) as zs:
        service = await zs.add_model_service(param())
        wanted = deployment(resource_uuid=RESOURCE_UUID, description="prod")
        group = await zs.ai.deploy_model_service(service.uuid, wanted, user_tags=["k8s::ns-a"])
        assert (group.uuid, group.description) == (RESOURCE_UUID, "prod")
        with pytest.raises(ZStackAPIError) as taken:
            await zs.ai.deploy_model_service(service.uuid, wanted)
        assert taken.value.error.code == "SYS.1000"
        tags = await zs.query_user_tags(RESOURCE_UUID)
        assert [(t.tag, t.resource_type) for t in tags] == [
            ("k8s::ns-a", "ModelServiceInstanceGroupVO")
        ]
        renamed = await zs.ai.update_instance_group(RESOURCE_UUID, "renamed")
        assert renamed.name == "renamed"
        found = await zs.ai.query_instance_groups(
            [f"modelServiceUuid={service.uuid}", "name=renamed"]
        )
        assert [g.uuid for g in found] == [RESOURCE_UUID]
        await zs.ai.delete_instance_group(RESOURCE_UUID, mode=DeleteMode.ENFORCING)
    counters = await sim.admin.counters()
    assert counters.created[RESOURCE_UUID] == 1
    assert counters.create_requests[RESOURCE_UUID] == 2


async def test_a_deploy_job_is_picked_up_again_by_its_uuid(sim: Simulator) -> None:
    job = "a" * 32
    async with ZStackClient(sim.url, ADMIN) as zs:
        service = await zs.add_model_service(param())
        await sim.admin.set_faults(hold_jobs=True)
        with pytest.raises(JobTimeoutError) as pending:
            await zs.ai.deploy_model_service(service.uuid, deployment(), job_uuid=job, wait=0)
        assert pending.value.job_uuid == job
    await sim.admin.release_jobs()
    async with ZStackClient(sim.url, ADMIN) as fresh:  # e.g. the operator after a restart
        group = await fresh.ai.wait_deployment(job, timeout=5)
        assert group.model_service_uuid == service.uuid
        assert [g.uuid for g in await fresh.ai.query_instance_groups()] == [group.uuid]
